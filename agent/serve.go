package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/posagent/posagent/agent/status"
	"github.com/posagent/posagent/alipay"
	"github.com/posagent/posagent/config"
	"github.com/posagent/posagent/device"
	"github.com/posagent/posagent/queue"
)

// Serve is `posagent run`: it opens the payment store named by cfg, builds
// the Alipay client and the register link from cfg, and runs an Agent until
// ctx ends; then it closes the store. A store that cannot be opened, or a
// key that cannot be used, stops it before anything is sent or called.
//
// Unless status.listen is empty, the status endpoint serves the agent's
// state and payments there; an address that cannot be listened on stops
// Serve at start too, and so does one that other hosts can reach without a
// usable status.token_file (a *config.Error): such a listener is never
// served without its token.
//
// A merchant private key file that other users can read is logged as a
// warning at start; the agent runs all the same.
func Serve(ctx context.Context, cfg *config.Config, log zerolog.Logger, version string) (err error) {
	apCfg, err := cfg.AlipayConfig()
	if err != nil {
		return err
	}
	if exposed, err := cfg.PrivateKeyExposure(); err != nil {
		log.Warn().Err(err).Str("file", cfg.Alipay.PrivateKeyFile).Msg("cannot tell who may read the merchant private key file")
	} else if exposed != "" {
		log.Warn().Str("file", cfg.Alipay.PrivateKeyFile).Msg(exposed)
	}
	token, err := statusToken(cfg, log)
	if err != nil {
		return err
	}
	client, err := alipay.NewClient(apCfg)
	if err != nil {
		return fmt.Errorf("the [alipay] section cannot be used: %w", err)
	}
	store, err := openStore(cfg.Storage.Path)
	if err != nil {
		return fmt.Errorf("cannot open the payment store: %w", err)
	}
	defer func() {
		if cerr := store.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close the payment store: %w", cerr))
		}
	}()
	if r := store.Report(); r != nil {
		log.Error().Str("report", r.String()).Msg("the payment store failed its integrity check and was salvaged")
	}
	links := new(status.LinkCounters)
	line := device.NewLine(cfg.Register.PortConfig(), device.WithLogger(log), device.WithName("posagent "+version), device.WithTrace(links.Trace))
	log.Info().Str("port", cfg.Register.Port).Str("store", cfg.Storage.Path).Str("endpoint", cfg.Alipay.Endpoint).
		Str("client_id", cfg.Alipay.ClientID).Msg("posagent starting")
	for _, w := range cfg.Warnings() {
		log.Warn().Str("key", w.Key).Msg(w.Msg)
	}
	calls := status.NewCalls()
	a := New(store, client, line, Options{
		Interval:    cfg.Polling.Interval,
		CancelAfter: cfg.Polling.CancelAfter,
		MaxRPS:      cfg.Polling.MaxRPS,
		AbsentGrace: cfg.Polling.AbsentGrace,
		Retention:   cfg.Storage.Retention,
		Log:         log,
		Calls:       calls,

		PublicKeyFile: cfg.Alipay.AlipayPublicKeyFile,
	})
	// Deferred in this order so that the status endpoint is stopped, then
	// waited for, before the store it reads is closed.
	var page sync.WaitGroup
	defer page.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Status.Listen != "" {
		ln, err := status.Listen(cfg.Status.Listen, cfg.Status.AllowRemote)
		if err != nil {
			return err
		}
		info := pageInfo{version: version, port: cfg.Register.Port, endpoint: cfg.Alipay.Endpoint,
			clientID: cfg.Alipay.ClientID, storePath: cfg.Storage.Path, calls: calls, links: links}
		h := status.NewServer(status.Options{
			Source:   status.SourceFunc(func() status.Snapshot { return a.statusSnapshot(info) }),
			Payments: store,
			Calls:    calls,
			Token:    token,
			Identity: status.Identity{Store: cfg.Status.Store, Lane: cfg.Status.Lane},

			Reconciliations: store,
			WriteToken:      reconcileToken(cfg, token, log),
		})
		page.Go(func() {
			if err := status.Serve(ctx, ln, h); err != nil {
				log.Error().Err(err).Msg("the status endpoint stopped; payments carry on")
			}
		})
		log.Info().Str("listen", ln.Addr().String()).Bool("token", token != "").Msg("status endpoint up")
	}
	err = a.Run(ctx)
	cancel()
	log.Info().Msg("posagent stopped")
	return err
}

// statusToken returns the token the status endpoint must demand: "" for a
// loopback listener or none, else the token of status.token_file, which
// run writes first where it is missing on platforms where it does so
// (config.Config.EnsureStatusToken).
func statusToken(cfg *config.Config, log zerolog.Logger) (string, error) {
	if cfg.Status.Listen == "" || !status.NeedsToken(cfg.Status.Listen) {
		return "", nil
	}
	created, err := cfg.EnsureStatusToken()
	if err != nil {
		return "", err
	}
	if created {
		log.Info().Str("file", cfg.Status.TokenFile).Msg("wrote a new random status token; head office sends it as Authorization: Bearer")
	}
	token, err := cfg.StatusToken()
	if err == nil && token == "" {
		// StatusToken reads a token for every listener NeedsToken names;
		// should that ever change, the listener must still not go up.
		err = fmt.Errorf("status.listen %s can be reached from other hosts but no token was read for it; set status.token_file", cfg.Status.Listen)
	}
	return token, err
}

// openStore opens the payment store at path for the agent: quickly, with
// the integrity check in full left to the background (queue.Options.Quick,
// docs/design.md, "Checking the store"), unless the payments the agent
// reads first (the outbox and the unfinished ones) do not read; the store
// is then opened again with the check in full, which salvages it.
func openStore(path string) (*queue.Store, error) {
	store, err := queue.Open(path, queue.Options{Quick: true})
	if err != nil {
		return nil, err
	}
	_, err = store.Outbox()
	if err == nil {
		_, err = store.Unfinished()
	}
	if !errors.Is(err, queue.ErrCorrupt) {
		return store, nil // any other failure shows when the agent resumes
	}
	if err := store.Close(); err != nil {
		return nil, err
	}
	return queue.Open(path, queue.Options{})
}
