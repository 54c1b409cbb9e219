package doctor

import (
	"context"
	"fmt"
	"time"

	"github.com/posagent/posagent/config"
)

// statusAskTimeout bounds one question to a running agent's status
// endpoint: it answers from memory and the store, on this machine.
const statusAskTimeout = 5 * time.Second

// checkAgent reads a running agent's operator problem from its status
// endpoint (/api/status). The agent raises one when only a person can get
// payments through: Alipay refuses the credentials, knows none of the
// register's payments, or answers with signatures that do not verify. Those
// come from the agent's own traffic, which doctor cannot see, so they are
// asked of the agent. It runs only when a running agent holds the store,
// and is skipped when the endpoint is off or does not answer.
func checkAgent(ctx context.Context, r *report, cfg *config.Config, held bool) {
	switch {
	case !held:
		r.skip("agent", "no running posagent holds the store, so there is no operator problem to read")
		return
	case cfg.Status.Listen == "":
		r.skip("agent", "status.listen is empty, so the running posagent's operator problems cannot be read; its log names them")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, statusAskTimeout)
	defer cancel()
	client, err := cfg.StatusEndpoint().Client()
	if err != nil {
		r.skip("agent", fmt.Sprintf("cannot ask the running posagent (%v); its log names any operator problem", err))
		return
	}
	snap, err := client.Status(ctx)
	if err != nil {
		r.skip("agent", fmt.Sprintf("cannot read the running posagent's state (%v); its log names any operator problem", err))
		return
	}
	if p := snap.Alipay.OperatorProblem; p != "" {
		r.fail("agent", "the running posagent needs an operator: "+p)
		return
	}
	r.pass("agent", "the running posagent reports no operator problem with Alipay")
}
