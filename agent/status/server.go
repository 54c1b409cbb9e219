package status

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source gives the agent's state. The agent implements it; Snapshot must be
// cheap and safe to call from any goroutine, since every request calls it.
type Source interface {
	Snapshot() Snapshot
}

// SourceFunc adapts a function to Source.
type SourceFunc func() Snapshot

// Snapshot calls f.
func (f SourceFunc) Snapshot() Snapshot { return f() }

// Options configure a Server.
type Options struct {
	Source   Source   // the agent's state; required
	Payments Payments // the payment store; required
	// Calls, when not nil, adds the Alipay call counts and latencies to
	// /metrics. The agent passes the Calls it reports its calls to.
	Calls *Calls
	// Refresh is how often the page reloads itself; 5 s when zero.
	Refresh time.Duration
	// Zone is the terminal's time zone, in which /api/report and the
	// page's Today panel count days; time.Local when nil.
	Zone *time.Location
	// Reconciliations, when not nil, keeps the summary of the last
	// reconciliation: the page, /api/status and /metrics show it, and
	// PUT /api/reconciliation replaces it for a request that carries
	// WriteToken.
	Reconciliations Reconciliations
	// WriteToken is the bearer token PUT /api/reconciliation demands,
	// whatever the listener, since it writes to the store; empty, that
	// endpoint refuses every request.
	WriteToken string
	// Identity names the terminal in head office's monitoring; /metrics
	// carries it in posagent_info.
	Identity Identity
	// Token, when not empty, is demanded as "Authorization: Bearer Token"
	// of every request but /healthz; others are answered 401. A listener
	// that other hosts can reach (NeedsToken) must be served with one: the
	// status pages show payment details.
	Token string
}

// Server serves the status endpoints. It is an http.Handler.
type Server struct {
	source  Source
	store   Payments
	refresh time.Duration
	zone    *time.Location
	mux     *http.ServeMux
	handler http.Handler // mux, behind the token gate when there is a token
	recs    Reconciliations
	// writeSum is the SHA-256 of Options.WriteToken; nil when there is none.
	writeSum *[sha256.Size]byte
}

// NewServer returns a Server for opts. Its metrics registry is its own, so
// several Servers can live in one process (as in tests).
func NewServer(opts Options) *Server {
	s := &Server{
		source:  opts.Source,
		store:   opts.Payments,
		refresh: opts.Refresh,
		zone:    opts.Zone,
		mux:     http.NewServeMux(),
		recs:    opts.Reconciliations,
	}
	if opts.WriteToken != "" {
		sum := sha256.Sum256([]byte(opts.WriteToken))
		s.writeSum = &sum
	}
	if s.zone == nil {
		s.zone = time.Local
	}
	if s.refresh <= 0 {
		s.refresh = 5 * time.Second
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(newStateCollector(s.snapshot, opts.Identity))
	if opts.Calls != nil {
		reg.MustRegister(opts.Calls)
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	s.mux.HandleFunc("GET /{$}", s.page)
	s.mux.HandleFunc("GET /page.css", s.css)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /api/status", s.apiStatus)
	s.mux.HandleFunc("GET /api/payments", s.apiPayments)
	s.mux.HandleFunc("GET /api/payments/{req}", s.apiPayment)
	s.mux.HandleFunc("GET /api/report", s.apiReport)
	s.mux.HandleFunc("PUT /api/reconciliation", s.putReconciliation)
	s.handler = s.mux
	if opts.Token != "" {
		s.handler = &tokenGate{sum: sha256.Sum256([]byte(opts.Token)), next: s.mux}
	}
	return s
}

// snapshot is the Source's snapshot with the store's counts filled in.
func (s *Server) snapshot() Snapshot {
	snap := s.source.Snapshot()
	fillStore(&snap.Store, s.store, snap.Taken)
	fillReconciliation(&snap, s.recs)
	return snap
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Listen opens the status listener on addr after CheckListen has allowed it,
// so the agent can report a bad or busy address at start, before serving.
func Listen(addr string, allowRemote bool) (net.Listener, error) {
	if err := CheckListen(addr, allowRemote); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on status.listen %s; free the port or choose another: %w", addr, err)
	}
	return ln, nil
}

// Serve serves h on ln until ctx is done, then shuts down, giving requests in
// flight up to two seconds. It returns nil after a shutdown caused by ctx.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("status endpoint stopped: %w", err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdown)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) && err == nil {
		err = serveErr
	}
	return err
}
