package agent

import (
	"errors"
	"io/fs"
	"os"

	"github.com/posagent/posagent/agent/status"
)

// StatusToken returns the bearer token the status endpoint demands, read
// from status.token_file, or "" when status.listen is off or loopback, which
// demands none. A token file that cannot be used (missing, unreadable,
// empty, too short) gives a *ConfigError naming status.token_file.
func (c *Config) StatusToken() (string, error) {
	if c.Status.Listen == "" || !status.NeedsToken(c.Status.Listen) {
		return "", nil
	}
	token, err := status.ReadToken(c.Status.TokenFile)
	if err != nil {
		return "", &ConfigError{Problems: []Problem{c.problem("status.token_file", err)}}
	}
	return token, nil
}

// StatusEndpoint returns how commands reach the running agent's status
// endpoint: at status.listen, with the token of status.token_file when the
// listener demands one. The file is read only then, so that a user who may
// not read it can still use commands that read the store file itself.
func (c *Config) StatusEndpoint() status.Endpoint {
	path := c.Status.TokenFile
	return status.Endpoint{
		Listen: c.Status.Listen,
		Token:  func() (string, error) { return status.ReadToken(path) },
	}
}

// checkStatusToken is StatusToken for `posagent config check` and `posagent
// doctor`: a missing token file is no problem where `posagent run` writes
// it (runCreatesStatusToken), any other problem is.
func (c *Config) checkStatusToken() error {
	_, err := c.StatusToken()
	if err == nil {
		return nil
	}
	if _, serr := os.Stat(c.Status.TokenFile); runCreatesStatusToken && errors.Is(serr, fs.ErrNotExist) {
		return nil
	}
	return err
}
