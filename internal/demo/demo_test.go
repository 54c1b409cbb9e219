package demo

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestDemoEndsAsExpected(t *testing.T) {
	t.Parallel()
	for _, inMemory := range []bool{false, true} {
		t.Run(fmt.Sprintf("in-memory=%v", inMemory), func(t *testing.T) {
			testDemo(t, Options{Payments: 2, InMemory: inMemory})
		})
	}
}

func testDemo(t *testing.T, opts Options) {
	if testing.Short() {
		t.Skip("the demo takes several seconds")
	}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, opts); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"all 9 payments ended as expected", "CANCELLED REGISTER_CANCEL", "CANCELLED AMOUNT_MISMATCH", "FAIL USER_BALANCE_NOT_ENOUGH"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "RESULT demo-06  SUCCESS") {
		t.Errorf("a forged answer passed as SUCCESS:\n%s", out.String())
	}
}
