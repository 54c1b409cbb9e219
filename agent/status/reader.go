package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/posagent/posagent/queue"
)

// Reader reads payments wherever they can be read: from the store file when
// no agent runs, or through the running agent's status endpoint when the
// agent holds the file.
type Reader interface {
	// List returns the payments f selects, all at once: use it with a
	// Limit, or on small stores.
	List(ctx context.Context, f queue.Filter) ([]queue.Payment, error)
	// Each calls fn with every payment f selects, in f's order, up to
	// f.Limit, and stops at fn's first error or when ctx ends. It reads
	// a page at a time (queue.Store.Each, or one request per page to the
	// running agent), so that neither this process nor the agent holds
	// more than a page, and fn runs outside any read transaction.
	Each(ctx context.Context, f queue.Filter, fn func(*queue.Payment) error) error
	Get(ctx context.Context, req string) (queue.Payment, error)
	// Source says where the payments come from, for messages.
	Source() string
	Close() error
}

// Endpoint is how to reach a running agent's status endpoint.
type Endpoint struct {
	Listen string // status.listen; empty when the endpoint is off
	// Token reads the bearer token (status.token_file). It is called only
	// when a listener on Listen demands one (NeedsToken), so that a user
	// who cannot read the file can still read the store file itself. Nil
	// sends no token.
	Token func() (string, error)
}

// Client returns a Client for e, with the token when the listener demands
// one.
func (e Endpoint) Client() (*Client, error) {
	if e.Listen == "" {
		return nil, errors.New("status.listen is empty, so the running posagent has no status endpoint to ask; set status.listen and restart it")
	}
	token := ""
	if NeedsToken(e.Listen) && e.Token != nil {
		var err error
		if token, err = e.Token(); err != nil {
			return nil, fmt.Errorf("the running posagent's status endpoint %s needs the token of status.token_file, which cannot be used; run this as root or the posagent user: %w", e.Listen, err)
		}
	}
	return NewClient(e.Listen, token), nil
}

// WriteClient returns a Client for e that carries the token of
// status.token_file whatever the listener, for the one write the endpoint
// takes (Client.PutReconciliation).
func (e Endpoint) WriteClient() (*Client, error) {
	if e.Listen == "" {
		return nil, errors.New("status.listen is empty, so the running posagent has no status endpoint to send the summary to; set status.listen and restart it")
	}
	if e.Token == nil {
		return nil, errors.New("no status.token_file is configured")
	}
	token, err := e.Token()
	if err != nil {
		return nil, fmt.Errorf("storing the summary through the running posagent needs the token of status.token_file; run this as root or the posagent user (Windows: an administrator): %w", err)
	}
	return NewClient(e.Listen, token), nil
}

// OpenReader opens the store at storePath read-only; when a running agent
// holds it (the lock is not free within lockWait), it reads through that
// agent's status endpoint ep instead. Nothing is ever written.
func OpenReader(storePath string, ep Endpoint, lockWait time.Duration) (Reader, error) {
	store, err := queue.Open(storePath, queue.Options{ReadOnly: true, LockTimeout: lockWait})
	if err == nil {
		return storeReader{store}, nil
	}
	if !errors.Is(err, queue.ErrLocked) {
		return nil, err
	}
	if ep.Listen == "" {
		return nil, fmt.Errorf("a running posagent holds %s and its status endpoint is off (status.listen is empty); set status.listen and restart it, or stop it to read the file: %w", storePath, err)
	}
	c, cerr := ep.Client()
	if cerr != nil {
		return nil, fmt.Errorf("a running posagent holds %s: %w", storePath, cerr)
	}
	return endpointReader{c}, nil
}

// storeReader reads the store file.
type storeReader struct{ s *queue.Store }

func (r storeReader) List(_ context.Context, f queue.Filter) ([]queue.Payment, error) {
	return r.s.List(f)
}
func (r storeReader) Each(ctx context.Context, f queue.Filter, fn func(*queue.Payment) error) error {
	return r.s.Each(f, func(p *queue.Payment) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(p)
	})
}
func (r storeReader) Get(_ context.Context, req string) (queue.Payment, error) { return r.s.Get(req) }
func (r storeReader) Source() string                                           { return r.s.Path() }
func (r storeReader) Close() error                                             { return r.s.Close() }

// endpointReader reads through a running agent's status endpoint.
type endpointReader struct{ c *Client }

func (r endpointReader) List(ctx context.Context, f queue.Filter) ([]queue.Payment, error) {
	return r.c.List(ctx, f)
}
func (r endpointReader) Each(ctx context.Context, f queue.Filter, fn func(*queue.Payment) error) error {
	return r.c.Each(ctx, f, fn)
}
func (r endpointReader) Get(ctx context.Context, req string) (queue.Payment, error) {
	return r.c.Get(ctx, req)
}
func (r endpointReader) Source() string { return "the running posagent at " + r.c.base }
func (r endpointReader) Close() error   { r.c.hc.CloseIdleConnections(); return nil }
