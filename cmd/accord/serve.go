package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/cluster"
	"github.com/accordchat/accord/gateway"
	"github.com/accordchat/accord/gctune"
	"github.com/accordchat/accord/password"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/localpg"
	"github.com/accordchat/accord/rest"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// database opens the store: the server named by DATABASE_URL, or a private
// PostgreSQL started in the data directory. close stops what it started.
// With attach set (for migrate and admin), a private PostgreSQL that a
// running node owns is used through its socket instead of refusing.
func database(ctx context.Context, cfg Config, logger *slog.Logger, attach bool) (store *persistence.Store, closeFn func(context.Context), err error) {
	dsn := cfg.DatabaseURL
	var pg *localpg.Server
	if dsn == "" {
		pg, err = localpg.Start(ctx, localpg.Config{DataDir: cfg.DataDir, Logger: logger})
		switch {
		case errors.Is(err, localpg.ErrLocked) && attach:
			logger.Info("a running node owns the data directory; using its PostgreSQL")
			if dsn, err = localpg.AttachDSN(cfg.DataDir, ""); err != nil {
				return nil, nil, err
			}
		case err != nil:
			return nil, nil, err
		default:
			dsn = pg.DSN()
		}
	}
	store, err = persistence.Open(ctx, dsn)
	if err != nil {
		if pg != nil {
			_ = pg.Stop(context.Background())
		}
		return nil, nil, err
	}
	return store, func(ctx context.Context) {
		store.Close()
		if pg != nil {
			if err := pg.Stop(ctx); err != nil {
				logger.Error("stopping PostgreSQL failed", slog.Any("error", err))
			}
		}
	}, nil
}

func serve(ctx context.Context, args []string) error {
	cfg, err := parseFlags("serve", args)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	slog.SetDefault(logger)

	// Bind the HTTP port first so a port in use fails before anything starts.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer func() { _ = ln.Close() }()

	store, closeDB, err := database(ctx, cfg, logger, false)
	if err != nil {
		return err
	}
	// Everything below stops in reverse order; the database last.
	shutdownCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	}
	defer func() {
		sctx, cancel := shutdownCtx()
		defer cancel()
		closeDB(sctx)
	}()

	var bg sync.WaitGroup
	bgCtx, stopBG := context.WithCancel(context.Background())
	defer func() { stopBG(); bg.Wait() }()
	bg.Go(func() { gctune.Run(bgCtx, gctune.Config{MinHeap: cfg.GCMinHeap}) })

	keys, err := persistence.NewKeyring(ctx, store, logger)
	if err != nil {
		return err
	}
	bg.Go(func() { keys.Run(bgCtx, 30*time.Second) })

	ids := snowflake.NewGenerator(nil)
	lease := &persistence.WorkerLease{Store: store, Node: nodeName(), Logger: logger, OnLease: ids.SetLease}
	if err := lease.Acquire(ctx); err != nil {
		return fmt.Errorf("lease a snowflake worker id: %w", err)
	}
	bg.Go(func() { lease.Run(bgCtx) })

	if err := store.PrepareMessages(ctx); err != nil {
		return err
	}
	partitions := &persistence.PartitionKeeper{Store: store, Retention: cfg.MessageRetention, Logger: logger}
	bg.Go(func() { partitions.Run(bgCtx) })

	passwords := password.NewHasher(password.DefaultParams, 0)
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Grains publish to the event counter and, once it exists, the gateway.
	gatewayFanout := &lateFanout{}
	events := fanouts{newEventCounter(registry), gatewayFanout}
	writer := persistence.NewMessageWriter(store, persistence.WriterConfig{Logger: logger, Metrics: registry})
	// The writer outlives the actor system: grains' last sends complete.
	writerCtx, stopWriter := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() { defer close(writerDone); writer.Run(writerCtx) }()
	defer func() { stopWriter(); <-writerDone }()
	provider := cluster.New(cluster.Config{
		GossipAddr:    cfg.GossipAddr,
		AdvertiseAddr: cfg.AdvertiseAddr,
		Seeds:         cfg.Seeds,
		SecretKey:     cfg.GossipKey,
		Logger:        logger,
	})
	system, err := actors.Start(ctx, actors.Config{
		RemoteAddr:    cfg.RemoteAddr,
		AdvertiseAddr: cfg.AdvertiseAddr,
		Provider:      provider,
		Users:         store,
		Passwords:     passwords,
		Guilds:        store,
		Channels:      store,
		Writer:        writer,
		IDs:           ids,
		Fanout:        events,
		HTTPAddr:      advertisedHTTP(ln.Addr().String(), cfg.AdvertiseAddr),
		Logger:        logger,
	})
	if err != nil {
		return fmt.Errorf("start actor system: %w", err)
	}
	defer system.Stop()

	tokens := token.NewIssuer(token.Config{Keys: keys})
	gw := gateway.New(gateway.Config{
		Tokens:    tokens,
		Store:     store,
		Users:     system.Users(),
		Guilds:    system.Guilds(),
		DMs:       system.Channels(),
		Bots:      store,
		PublicURL: cfg.GatewayURL,
		Cluster:   system,
		Logger:    logger,
	})
	gatewayFanout.set(gw)
	system.SetSessionHost(gw)
	registerFanoutStats(registry, system)
	registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "accord", Subsystem: "gateway", Name: "connections",
		Help: "Open gateway WebSocket connections on this node.",
	}, func() float64 { return float64(gw.Connections()) }))
	defer func() {
		sctx, cancel := shutdownCtx()
		defer cancel()
		if err := gw.Shutdown(sctx); err != nil {
			logger.Warn("gateway shutdown incomplete", slog.Any("error", err))
		}
	}()

	api := rest.New(rest.Config{
		Accounts:     store,
		Applications: store,
		Users:        system.Users(),
		Guilds:       system.Guilds(),
		Lookup:       store,
		Channels:     system.Channels(),
		Messages:     store,
		Tokens:       tokens,
		Passwords:    passwords,
		IDs:          ids,
		Logger:       logger,
		Registry:     registry,
		GatewayURL:   cfg.GatewayURL,
		AdminToken:   cfg.AdminToken,
		Cluster:      system,
		Ready: func(ctx context.Context) error {
			select {
			case <-provider.Ready():
			default:
				return errors.New("cluster not joined")
			}
			return store.Ping(ctx)
		},
	})
	// The gateway and the API share the listener: /gateway and /gateway/
	// (discordgo adds the slash) upgrade, everything else is the API.
	mux := http.NewServeMux()
	mux.Handle("/gateway", gw)
	mux.Handle("/gateway/", gw)
	mux.Handle("/", api.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, logger)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("accord is serving", slog.String("http", ln.Addr().String()), slog.String("gossip", cfg.GossipAddr),
		slog.String("remote", cfg.RemoteAddr), slog.Int("snowflake_worker", lease.Worker()))

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-provider.Evicted():
		// The rest of the cluster declared this node dead: its grains live
		// elsewhere now and nothing would take its sessions over. Close
		// quickly and exit non-zero, so the supervisor starts it afresh.
		sctx, cancel := shutdownCtx()
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			logger.Warn("http shutdown incomplete", slog.Any("error", err))
		}
		return provider.EvictedErr()
	}
	sctx, cancel := shutdownCtx()
	defer cancel()
	// Gateway clients get op 7 and resume elsewhere before HTTP stops
	// (hijacked connections are not http.Server's to wait for).
	drainCtx, cancelDrain := context.WithTimeout(sctx, cfg.ShutdownTimeout/2)
	gw.Drain(drainCtx)
	cancelDrain()
	// Stop accepting and let in-flight requests finish.
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("http shutdown incomplete", slog.Any("error", err))
	}
	return nil
}

// nodeName names this process in worker leases: host, pid and a random
// suffix, fresh per start.
func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func migrateCmd(ctx context.Context, args []string) error {
	cfg, err := parseFlags("migrate", args)
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	_, closeDB, err := database(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	closeDB(context.Background())
	logger.Info("migrations applied")
	return nil
}

func adminCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "rotate-signing-key" {
		return fmt.Errorf("usage: accord admin rotate-signing-key [flags]")
	}
	cfg, err := parseFlags("admin rotate-signing-key", args[1:])
	if err != nil {
		return err
	}
	logger := newLogger(cfg, os.Stderr)
	store, closeDB, err := database(ctx, cfg, logger, true)
	if err != nil {
		return err
	}
	defer closeDB(context.Background())
	if err := store.RotateSigningKey(ctx); err != nil {
		return err
	}
	logger.Info("signing key rotated; nodes sign with it after their next key reload (at most 30 s)")
	return nil
}

// servePprof serves net/http/pprof on addr, apart from the API, until stop.
func servePprof(addr string, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("pprof is serving", slog.String("addr", ln.Addr().String()))
	return func() { _ = srv.Close() }, nil
}
