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
	return &Client{base: base, token: token, hc: &http.Client{Timeout: 10 * time.Second}}
}

// Status returns the agent's state as /api/status gives it.
func (c *Client) Status(ctx context.Context) (Snapshot, error) {
	var s statusJSON
	err := c.get(ctx, "/api/status", &s)
	return s.Snapshot, err
}

// List returns the payments f selects, as queue.Store.List does.
func (c *Client) List(ctx context.Context, f queue.Filter) ([]queue.Payment, error) {
	var ps []queue.Payment
	err := c.get(ctx, "/api/payments?"+FilterQuery(f).Encode(), &ps)
	return ps, err
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

// do sends r and decodes the JSON of a 200 answer into v.
func (c *Client) do(r *http.Request, v any) error {
	path := r.URL.RequestURI()
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(r)
	if err != nil {
		return fmt.Errorf("the running agent's status endpoint %s does not answer; check status.listen and that posagent runs: %w", c.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s%s: %w", c.base, path, err)
	}
	if resp.StatusCode != http.StatusOK {
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
	if err := json.Unmarshal(body, v); err != nil {
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
	return q
}
