package agent

import (
	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/config"
)

// reconcileToken returns the token the status endpoint demands before it
// stores the summary of a `posagent reconcile` run while the agent holds
// the store: the endpoint's own token when it has one (token), else that of
// status.token_file where it can be read. Without one the endpoint takes no
// summary, and reconcile says so; payments are not affected.
func reconcileToken(cfg *config.Config, token string, log zerolog.Logger) string {
	if token != "" {
		return token
	}
	t, err := status.ReadToken(cfg.Status.TokenFile)
	if err != nil {
		log.Info().Err(err).Msg("posagent reconcile cannot record its summary through the status endpoint while the agent runs: status.token_file cannot be used")
		return ""
	}
	return t
}
