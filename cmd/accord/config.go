package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/accordchat/accord/gctune"
)

// Config is a node's configuration. Each field has a flag and an ACCORD_*
// environment variable (DATABASE_URL for the database); a flag wins over the
// environment, which wins over the default.
type Config struct {
	// HTTPAddr is where the REST API, the gateway, /metrics, /livez and
	// /readyz listen.
	HTTPAddr string
	// DataDir holds the managed PostgreSQL (when DatabaseURL is empty) and
	// the node's lock file.
	DataDir string
	// DatabaseURL names an external PostgreSQL; empty means the node starts
	// and owns a private one in DataDir.
	DatabaseURL string
	// LogLevel is debug, info, warn or error; LogFormat is text or json.
	LogLevel, LogFormat string
	// GossipAddr is memberlist's bind address; RemoteAddr is actor
	// remoting's; AdvertiseAddr, when set, is the host other nodes reach this
	// one at.
	GossipAddr, RemoteAddr, AdvertiseAddr string
	// Seeds are gossip addresses (host:port) of nodes to join.
	Seeds []string
	// GossipKey, base64 of 16, 24 or 32 bytes, encrypts gossip.
	GossipKey []byte
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration
	// MessageRetention drops monthly message partitions entirely older
	// than this; 0 keeps messages forever.
	MessageRetention time.Duration
	// GatewayURL is the gateway's URL as clients reach it (ws:// or
	// wss://); empty derives it from each request's Host header.
	GatewayURL string
	// AdminToken is the operator token of /api/admin (and `accord cluster
	// members`); empty disables those endpoints.
	AdminToken string
	// PprofAddr, when set, serves net/http/pprof on its own listener (keep
	// it on loopback); empty serves none.
	PprofAddr string
	// GCMinHeap is the heap size in bytes below which the garbage
	// collector does not run merely because GOGC says so (see gctune);
	// 0 leaves GOGC alone.
	GCMinHeap uint64
}

func envOr(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

// bindConfig declares the flags of cfg on fs with env-aware defaults.
func bindConfig(fs *flag.FlagSet, cfg *Config) (finish func() error) {
	fs.StringVar(&cfg.HTTPAddr, "http-addr", envOr("ACCORD_HTTP_ADDR", "127.0.0.1:8080"), "HTTP listen address (ACCORD_HTTP_ADDR)")
	fs.StringVar(&cfg.DataDir, "data-dir", envOr("ACCORD_DATA_DIR", "./data"), "data directory (ACCORD_DATA_DIR)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", envOr("DATABASE_URL", ""), "PostgreSQL URL; empty starts a private PostgreSQL in the data directory (DATABASE_URL)")
	fs.StringVar(&cfg.PprofAddr, "pprof-addr", envOr("ACCORD_PPROF_ADDR", ""), "serve /debug/pprof here (loopback); empty: off (ACCORD_PPROF_ADDR)")
	fs.StringVar(&cfg.LogLevel, "log-level", envOr("ACCORD_LOG_LEVEL", "info"), "debug, info, warn or error (ACCORD_LOG_LEVEL)")
	fs.StringVar(&cfg.LogFormat, "log-format", envOr("ACCORD_LOG_FORMAT", "text"), "text or json (ACCORD_LOG_FORMAT)")
	fs.StringVar(&cfg.GossipAddr, "gossip-addr", envOr("ACCORD_GOSSIP_ADDR", "127.0.0.1:7946"), "memberlist bind address (ACCORD_GOSSIP_ADDR)")
	fs.StringVar(&cfg.RemoteAddr, "remote-addr", envOr("ACCORD_REMOTE_ADDR", "127.0.0.1:8090"), "actor remoting address (ACCORD_REMOTE_ADDR)")
	fs.StringVar(&cfg.AdvertiseAddr, "advertise-addr", envOr("ACCORD_ADVERTISE_ADDR", ""), "host other nodes reach this node at (ACCORD_ADVERTISE_ADDR)")
	seeds := fs.String("seeds", envOr("ACCORD_SEEDS", ""), "comma-separated gossip addresses to join (ACCORD_SEEDS)")
	key := fs.String("gossip-key", envOr("ACCORD_GOSSIP_KEY", ""), "base64 gossip encryption key of 16, 24 or 32 bytes (ACCORD_GOSSIP_KEY)")
	fs.StringVar(&cfg.GatewayURL, "gateway-url", envOr("ACCORD_GATEWAY_URL", ""), "the gateway's public URL, e.g. wss://chat.example/gateway; empty derives it from the Host header (ACCORD_GATEWAY_URL)")
	fs.StringVar(&cfg.AdminToken, "admin-token", envOr("ACCORD_ADMIN_TOKEN", ""), "operator token of /api/admin; empty disables it; prefer the environment (ACCORD_ADMIN_TOKEN)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 25*time.Second, "bound on a graceful shutdown")
	minHeap := fs.String("gc-min-heap", envOr("ACCORD_GC_MIN_HEAP", fmt.Sprintf("%dMiB", gctune.DefaultMinHeap>>20)), "let the heap grow to this before GOGC's collections start, e.g. 256MiB or 1GiB; 0: GOGC alone (ACCORD_GC_MIN_HEAP)")
	retention := fs.String("message-retention", envOr("ACCORD_MESSAGE_RETENTION", "0"), "drop messages older than this, by whole months, e.g. 8760h; 0 keeps them (ACCORD_MESSAGE_RETENTION)")
	return func() error {
		d, err := time.ParseDuration(*retention)
		if err != nil || d < 0 {
			return fmt.Errorf("--message-retention must be a duration like 8760h, not %q", *retention)
		}
		cfg.MessageRetention = d
		if cfg.GCMinHeap, err = parseSize(*minHeap); err != nil {
			return fmt.Errorf("--gc-min-heap must be a size like 256MiB or 1GiB, or 0, not %q", *minHeap)
		}
		for _, s := range strings.Split(*seeds, ",") {
			if s = strings.TrimSpace(s); s != "" {
				cfg.Seeds = append(cfg.Seeds, s)
			}
		}
		if *key != "" {
			k, err := base64.StdEncoding.DecodeString(*key)
			if err != nil || (len(k) != 16 && len(k) != 24 && len(k) != 32) {
				return fmt.Errorf("--gossip-key must be base64 of 16, 24 or 32 bytes")
			}
			cfg.GossipKey = k
		}
		if _, err := parseLevel(cfg.LogLevel); err != nil {
			return err
		}
		if cfg.LogFormat != "text" && cfg.LogFormat != "json" {
			return fmt.Errorf("--log-format must be text or json, not %q", cfg.LogFormat)
		}
		return nil
	}
}

// parseSize reads a byte size: a whole number with an optional KiB, MiB or
// GiB suffix.
func parseSize(s string) (uint64, error) {
	unit := uint64(1)
	for suffix, u := range map[string]uint64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			s, unit = n, u
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxUint64/unit {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * unit, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", s)
	}
	return l, nil
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// parseFlags parses args for a subcommand.
func parseFlags(name string, args []string) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("accord "+name, flag.ContinueOnError)
	finish := bindConfig(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, finish()
}
