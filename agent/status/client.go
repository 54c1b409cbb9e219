package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/posagent/posagent/queue"
)

// Client reads a running agent's payments and state through its status
// endpoint, for `posagent queue` while the agent holds the store.
type Client struct {
	base  string // http://host:port
	token string // sent as a bearer token when not empty
	hc    *http.Client
	page  int // payments asked for per request by Each
}

// NewClient returns a Client for the endpoint listening on addr (host:port,
// as in status.listen), sending token as "Authorization: Bearer token" when
// it is not empty. A host left empty or unspecified is taken as the
// loopback address.
func NewClient(addr, token string) *Client {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	base := "http://" + host
	if port != "" {
		base = "http://" + net.JoinHostPort(host, port)
	}
	return &Client{base: base, token: token, hc: &http.Client{Timeout: 10 * time.Second}, page: queue.MaxPage}
}

// Status returns the agent's state as /api/status gives it.
func (c *Client) Status(ctx context.Context) (Snapshot, error) {
	var s statusJSON
	err := c.get(ctx, "/api/status", &s)
	return s.Snapshot, err
}

// List returns the payments f selects, as queue.Store.List does. It
// holds them all; Each reads them a page at a time.
func (c *Client) List(ctx context.Context, f queue.Filter) ([]queue.Payment, error) {
	var ps []queue.Payment
	err := c.Each(ctx, f, func(p *queue.Payment) error {
		ps = append(ps, *p)
		return nil
	})
	return ps, err
}

// Each calls fn with every payment f selects, in f's order, up to
// f.Limit, as queue.Store.Each does, and stops at fn's first error. It
// asks for one page at a time (/api/payments?page=true) and decodes each
// payment as it arrives, so it holds at most one page, and every request
// is short: the agent never keeps a read transaction open for it.
func (c *Client) Each(ctx context.Context, f queue.Filter, fn func(*queue.Payment) error) error {
	limited, left := f.Limit > 0, f.Limit
	for {
		f.Limit = c.page
		if limited {
			f.Limit = min(left, c.page)
		}
		q := FilterQuery(f)
		q.Set("page", "true")
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/payments?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		n := 0
		var next string
		var fnErr error // fn's own, returned as it is
		err = c.send(r, func(resp *http.Response) error {
			next = resp.Header.Get(nextHeader)
			return decodeArray(resp.Body, func(p *queue.Payment) error {
				n++
				fnErr = fn(p)
				return fnErr
			})
		})
		if fnErr != nil {
			return fnErr
		}
		if err != nil {
			return err
		}
		left -= n
		if next == "" || limited && left <= 0 {
			return nil
		}
		if f.After, err = queue.ParsePosition(next); err != nil {
			return fmt.Errorf("the running agent's status endpoint %s gave a next page the client cannot read: %w", c.base, err)
		}
	}
}

// decodeArray decodes the JSON array of payments in r one element at a
// time, passing each to fn.
func decodeArray(r io.Reader, fn func(*queue.Payment) error) error {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return fmt.Errorf("not a JSON array of payments (%v)", err)
	}
	for dec.More() {
		var p queue.Payment
		if err := dec.Decode(&p); err != nil {
			return err
		}
		if err := fn(&p); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("the array of payments is cut short: %w", err)
	}
	return nil
}

// Get returns payment req; an unknown one gives an error wrapping
// queue.ErrNotFound.
func (c *Client) Get(ctx context.Context, req string) (queue.Payment, error) {
	var p queue.Payment
	err := c.get(ctx, "/api/payments/"+url.PathEscape(req), &p)
	return p, err
}

// PutReconciliation stores r as the summary of the last reconciliation in
// the running agent's store. The Client must carry the token of
// status.token_file (Endpoint.WriteClient), which this write demands even
// of a loopback listener.
func (c *Client) PutReconciliation(ctx context.Context, r queue.Reconciliation) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+"/api/reconciliation", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var stored queue.Reconciliation
	return c.do(req, &stored)
}

// get fetches path and decodes its JSON into v.
func (c *Client) get(ctx context.Context, path string, v any) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	return c.do(r, v)
}

// maxAnswer bounds an answer of one object (a payment, the status) that
// the client reads whole.
const maxAnswer = 64 << 20

// do sends r and decodes the JSON of a 200 answer into v.
func (c *Client) do(r *http.Request, v any) error {
	return c.send(r, func(resp *http.Response) error {
		return json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(v)
	})
}

// send sends r and passes a 200 answer to read; any other answer is an
// error that says what the agent said.
func (c *Client) send(r *http.Request, read func(*http.Response) error) error {
	path := r.URL.RequestURI()
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(r)
	if err != nil {
		return fmt.Errorf("the running agent's status endpoint %s does not answer; check status.listen and that posagent runs: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		if err != nil {
			return fmt.Errorf("reading the answer of %s%s: %w", c.base, path, err)
		}
		var e errorJSON
		json.Unmarshal(body, &e)
		if resp.StatusCode == http.StatusNotFound && e.Error != "" {
			return fmt.Errorf("the running agent says: %s: %w", e.Error, queue.ErrNotFound)
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("the running agent's status endpoint %s answered %s (%s); it must be sent the token of status.token_file, which only root and the posagent user may read (Windows: administrators), so run this as one of them", c.base, resp.Status, e.Error)
		}
		return fmt.Errorf("the running agent's status endpoint answered %s: %s", resp.Status, e.Error)
	}
	if err := read(resp); err != nil {
		if ctxErr := r.Context().Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("the answer of %s%s is not the expected JSON: %w", c.base, path, err)
	}
	return nil
}

// FilterQuery is the inverse of ParseFilter.
func FilterQuery(f queue.Filter) url.Values {
	q := url.Values{}
	for _, s := range f.States {
		q.Add("state", string(s))
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339Nano))
	}
	if f.FollowUp {
		q.Set("follow_up", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Oldest {
		q.Set("oldest", "true")
	}
	if !f.After.IsZero() {
		q.Set("after", f.After.String())
	}
	return q
}
