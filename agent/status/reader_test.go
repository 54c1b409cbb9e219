package status

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posagent/posagent/queue"
)

// serveFixture serves f on a loopback port until the test ends and returns
// the address.
func serveFixture(t *testing.T, f *fixture) string {
	t.Helper()
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Serve(ctx, ln, f.server()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func TestOpenReaderReadsThroughTheRunningAgent(t *testing.T) {
	f := newFixture(t) // holds the store open, as a running agent does
	addr := serveFixture(t, f)
	ctx := context.Background()

	r, err := OpenReader(f.store.Path(), Endpoint{Listen: addr}, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !strings.Contains(r.Source(), "running posagent") {
		t.Errorf("source = %q, want the running agent", r.Source())
	}
	filter := queue.Filter{States: []queue.State{queue.Pending, queue.Success}, Since: t0.Add(-time.Hour)}
	got, err := r.List(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	want, err := f.store.List(filter)
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("List through the endpoint = %s\nwant %s", gotJSON, wantJSON)
	}
	p, err := r.Get(ctx, "pos-pending-1")
	if err != nil || p.RequestID != "pos-pending-1" || len(p.Audit) != 3 {
		t.Errorf("Get = %+v, %v; want pos-pending-1 with its 3 audit events", p, err)
	}
	if _, err := r.Get(ctx, "nope"); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get(unknown) error = %v, want queue.ErrNotFound", err)
	}
	snap, err := NewClient(addr, "").Status(ctx)
	if err != nil || snap.Version != "1.2.3" || snap.Store.Pending != 1 {
		t.Errorf("Status = %+v, %v; want the fixture's", snap, err)
	}
}

func TestOpenReaderOpensTheFileWhenNoAgentRuns(t *testing.T) {
	f := newFixture(t)
	path := f.store.Path()
	want, _ := f.store.List(queue.Filter{})
	f.store.Close()

	r, err := OpenReader(path, Endpoint{Listen: "127.0.0.1:1"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Source() != path {
		t.Errorf("source = %q, want the file %s", r.Source(), path)
	}
	got, err := r.List(context.Background(), queue.Filter{})
	if err != nil || len(got) != len(want) {
		t.Errorf("List = %d payments, %v; want %d", len(got), err, len(want))
	}
}

func TestOpenReaderExplainsALockedStoreWithoutEndpoint(t *testing.T) {
	f := newFixture(t)
	_, err := OpenReader(f.store.Path(), Endpoint{}, 50*time.Millisecond)
	if !errors.Is(err, queue.ErrLocked) || !strings.Contains(err.Error(), "status.listen") {
		t.Errorf("error = %v, want ErrLocked explaining status.listen", err)
	}
}
