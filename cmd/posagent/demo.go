package main

import (
	"context"
	"fmt"
	"io"

	"github.com/posagent/posagent/internal/demo"
)

// runDemo runs "posagent demo": the agent between a simulated register and
// a fake Alipay, with no setup; exit status 0 only when every payment ended
// as expected.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo", "[-payments N]", stderr)
	n := fs.Int("payments", 0, "add `N` ordinary payments to the built-in mix")
	if code, done := parse(fs, args); done {
		return code
	}
	if *n < 0 || *n > 200 {
		return usageError(fs, "-payments %d is out of range; give 0 to 200", *n)
	}
	if err := demo.Run(ctx, stdout, demo.Options{Payments: *n}); err != nil {
		fmt.Fprintf(stderr, "posagent demo: %v\n", err)
		return exitFailure
	}
	return exitOK
}
