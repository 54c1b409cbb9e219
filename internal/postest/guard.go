package postest

import (
	"context"
	"testing"
	"time"
)

// Guard bounds every wait of a test for an event. It only fires when a test
// is failing, so it is long enough for a loaded CI machine.
const Guard = 30 * time.Second

// Context returns a context that ends when tb ends or Guard has passed.
func Context(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), Guard)
	tb.Cleanup(cancel)
	return ctx
}
