package status

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
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

func TestReadingThroughTheAgentGoesPageByPage(t *testing.T) {
	f := newFixture(t)
	for i := range 20 {
		at := t0.Add(-time.Duration(i) * time.Second)
		if _, _, err := f.store.Accept(queue.Payment{RequestID: fmt.Sprintf("pos-more-%02d", i), Amount: 100, Currency: "USD", AcceptedAt: at, Deadline: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	addr := serveFixture(t, f)
	c := NewClient(addr, "")
	c.page = 3
	ctx := context.Background()
	for _, filter := range []queue.Filter{
		{}, {Oldest: true}, {Limit: 7}, {Limit: 7, Oldest: true},
		{States: []queue.State{queue.Pending}}, {Since: t0.Add(-5 * time.Second), Oldest: true},
	} {
		want, err := f.store.List(filter)
		if err != nil {
			t.Fatal(err)
		}
		var got []queue.Payment
		err = c.Each(ctx, filter, func(p *queue.Payment) error {
			got = append(got, *p)
			return nil
		})
		if err != nil {
			t.Fatalf("Each(%+v) = %v", filter, err)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("Each(%+v) through the endpoint = %d payments, want %d", filter, len(got), len(want))
		}
		// The whole listing in one answer, streamed by the agent.
		var whole []queue.Payment
		if err := c.get(ctx, "/api/payments?"+FilterQuery(filter).Encode(), &whole); err != nil {
			t.Fatal(err)
		}
		if wholeJSON, _ := json.Marshal(whole); string(wholeJSON) != string(wantJSON) {
			t.Errorf("/api/payments?%s = %d payments, want %d", FilterQuery(filter).Encode(), len(whole), len(want))
		}
	}
	// fn's error ends the reading and comes back as it is.
	stop := errors.New("stop")
	seen := 0
	err := c.Each(ctx, queue.Filter{}, func(*queue.Payment) error { seen++; return stop })
	if err != stop || seen != 1 {
		t.Errorf("Each with fn failing = %v after %d payments; want stop after 1", err, seen)
	}
}

func TestOnePageAnswerSaysWhereTheNextStarts(t *testing.T) {
	f := newFixture(t)
	srv := f.server()
	all, _ := f.store.List(queue.Filter{})
	if len(all) < 3 {
		t.Fatalf("the fixture holds %d payments; want 3 or more", len(all))
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/payments?page=true&limit=2", nil))
	var got []queue.Payment
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != 2 {
		t.Fatalf("page of 2 = %s, %v", rec.Body, err)
	}
	next := rec.Header().Get(nextHeader)
	if want := queue.PositionOf(&all[1]).String(); next != want {
		t.Fatalf("%s = %q; want %q", nextHeader, next, want)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/payments?page=true&limit=100&after="+url.QueryEscape(next), nil))
	got = nil
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got) != len(all)-2 || got[0].RequestID != all[2].RequestID {
		t.Fatalf("the next page = %d payments, %v; want %d from %s", len(got), err, len(all)-2, all[2].RequestID)
	}
	if h := rec.Header().Get(nextHeader); h != "" {
		t.Errorf("the last page has %s %q", nextHeader, h)
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/payments?page=true&after=nonsense", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("a bad after = %d; want 400", rec.Code)
	}
}
