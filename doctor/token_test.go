package doctor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay/alipaysim"
	"github.com/posagent/posagent/internal/postest"
	"github.com/posagent/posagent/queue"
)

// runRemoteAgentEndpoint is runAgentEndpoint on a listener other hosts can
// reach, demanding token; it returns the store and status.listen.
func runRemoteAgentEndpoint(t *testing.T, path, token string) (*queue.Store, string) {
	t.Helper()
	st, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ln, err := status.Listen("0.0.0.0:0", true)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	h := status.NewServer(status.Options{
		Source: status.SourceFunc(func() status.Snapshot {
			return status.Snapshot{Started: started, Taken: time.Now(), Store: status.Store{Open: true, Path: path}}
		}),
		Payments: st,
		Token:    token,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { status.Serve(ctx, ln, h); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return st, net.JoinHostPort("0.0.0.0", port)
}

func TestDoctorAsksARemoteEndpointWithItsToken(t *testing.T) {
	t.Parallel()
	type want struct{ level, text string }
	tests := []struct {
		name    string
		file    *string // status.token next to the config; nil: none
		wantOK  bool
		config  want
		agent   want
		payment want
	}{
		{
			name:    "the agent's token",
			file:    new(postest.Token + "\n"),
			wantOK:  true,
			config:  want{"OK", "is valid"},
			agent:   want{"OK", "reports no operator problem"},
			payment: want{"OK", "Alipay knows payment pos-7"},
		},
		{
			name:    "another token",
			file:    new(strings.Repeat("ab", 32)),
			wantOK:  true,
			config:  want{"OK", "is valid"},
			agent:   want{"SKIP", "401 Unauthorized"},
			payment: want{"SKIP", "401 Unauthorized"},
		},
		{
			name:    "a token too short",
			file:    new("abc"),
			wantOK:  false,
			config:  want{"FAIL", "status.token_file"},
			agent:   want{"SKIP", "too short"},
			payment: want{"SKIP", "too short"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDoctorSetup(t)
			st, listen := runRemoteAgentEndpoint(t, s.store, postest.Token)
			s.accept(t, st, storedPayment{"pos-7", 10 * time.Minute, &alipaysim.Script{Steps: []alipaysim.Step{alipaysim.Success()}}})
			s.listen, s.allowRemote = listen, true
			if tt.file != nil {
				if err := os.WriteFile(filepath.Join(s.dir, "status.token"), []byte(*tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			s.write(t)
			ok, lines, out := s.run(t, time.Now)
			if ok != tt.wantOK {
				t.Errorf("Doctor = %v, want %v", ok, tt.wantOK)
			}
			for check, w := range map[string]want{"config": tt.config, "agent": tt.agent, "payment": tt.payment} {
				if line := lines[check]; !strings.HasPrefix(line, w.level+" ") || !strings.Contains(line, w.text) {
					t.Errorf("%s line = %q, want %s with %q", check, line, w.level, w.text)
				}
			}
			if strings.Contains(out, postest.Token) {
				t.Errorf("doctor printed the token:\n%s", out)
			}
			neverCancels(t, s.srv)
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}
