//go:build !windows

package service

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/posagent/posagent/internal/postest"
	"github.com/rs/zerolog"
)

// helperEnv makes the test binary act as `posagent run` with an agent that
// prints "ready", waits for its context, and prints "stopped".
const helperEnv = "POSAGENT_SERVICE_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "run" {
		err := Run(context.Background(), Name, zerolog.Nop(), func(ctx context.Context) error {
			fmt.Println("ready")
			<-ctx.Done()
			fmt.Println("stopped")
			return nil
		})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestRunStopsCleanlyOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), postest.Guard)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=run")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			if !lines.Scan() || lines.Text() != "ready" {
				t.Fatalf("first line %q, want ready", lines.Text())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest []string
			for lines.Scan() {
				rest = append(rest, lines.Text())
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("process ended with %v after %v; output %q", err, sig, rest)
			}
			if got := strings.Join(rest, "\n"); got != "stopped" {
				t.Fatalf("output after %v = %q, want stopped", sig, got)
			}
		})
	}
}
