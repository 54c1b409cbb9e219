package device

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// SimCheckReq is the req of the QUERY RunRegisterSim sends after each
// completed HELLO exchange; an agent answers it with STATUS UNKNOWN, which
// shows the cable works both ways.
const SimCheckReq = "register-sim-check"

// RunRegisterSim acts as a register on the port cfg describes until ctx ends,
// for technicians testing a cable: it writes every frame to w in hex with its
// decoded fields, and every event of the link in words. It answers frames and
// HELLOs, answers each RESULT with DONE, and after each completed HELLO
// exchange sends a QUERY for SimCheckReq. opts are those of NewLine.
func RunRegisterSim(ctx context.Context, w io.Writer, cfg PortConfig, opts ...Option) error {
	var mu sync.Mutex // w is written from the line's goroutine and this one
	printf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, format, args...)
	}
	trace := WithTrace(func(t Trace) {
		at := t.At.Format("15:04:05.000")
		switch {
		case t.Err != nil:
			printf("%s <- bad frame: %v\n", at, t.Err)
		case t.Out:
			printf("%s -> % x\n             %s\n", at, t.Raw, t.Frame)
		default:
			printf("%s <- % x\n             %s\n", at, t.Raw, t.Frame)
		}
	})
	r := NewRegister(cfg, append(opts, trace)...)
	r.SetAutoDone(true)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	for i := 0; ; i++ {
		ev, err := r.eventAt(ctx, i)
		if err != nil {
			return <-done
		}
		switch e := ev.(type) {
		case LinkUp:
			printf("link up on %s, boot %s\n", e.Port, r.Boot())
		case LinkDown:
			printf("link down: %v\n", e.Err)
		case OpenFailed:
			printf("cannot open the port: %v (retry in %v)\n", e.Err, e.Retry)
		case HelloDone:
			printf("HELLO exchange complete with %q (boot %s, role %s)\n", e.Peer.Name, e.Peer.Boot, e.Peer.Role)
			if err := r.Query(ctx, SimCheckReq); err != nil {
				return <-done
			}
		case Received:
			printf("received %T %+v\n", e.Msg, e.Msg)
		case Invalid:
			printf("received an invalid %c: %v\n", e.Type, e.Err)
		}
	}
}
