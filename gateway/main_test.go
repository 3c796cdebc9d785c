package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/cluster"
	"github.com/accordchat/accord/password"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/rest"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// env is one real node: PostgreSQL, a single-node actor cluster, the REST
// API and the gateway on one httptest listener, shared by the package's
// tests (protoactor allows one cluster per process). Tests use fresh users
// and guilds.
type env struct {
	url    string // http://127.0.0.1:port
	wsURL  string // ws://127.0.0.1:port/gateway
	store  *persistence.Store
	system *actors.System
	gw     *Server
	cfg    Config // the gateway's config, for extra servers over the same node
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

type keepTB struct{ testing.TB }

func (keepTB) Cleanup(func()) {}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// forward is the fan-out grains publish to; it reaches the gateway once
// that exists.
type forward struct{ to atomic.Pointer[Server] }

func (f *forward) Publish(ev actors.Event) {
	if s := f.to.Load(); s != nil {
		s.Publish(ev)
	}
}

func testEnv(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() {
		ctx := context.Background()
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		store, err := persistence.Open(ctx, pgtest.NewDatabase(keepTB{t}))
		if err != nil {
			envErr = err
			return
		}
		keys, err := persistence.NewKeyring(ctx, store, logger)
		if err != nil {
			envErr = err
			return
		}
		ids := snowflake.NewGenerator(nil)
		ids.SetLease(1, time.Now().Add(24*time.Hour))
		hasher := password.NewHasher(password.DefaultParams, 2)
		if envErr = store.PrepareMessages(ctx); envErr != nil {
			return
		}
		writer := persistence.NewMessageWriter(store, persistence.WriterConfig{Logger: logger})
		go writer.Run(context.Background())
		fwd := &forward{}
		provider := cluster.New(cluster.Config{GossipAddr: freeAddr(), Logger: logger})
		system, err := actors.Start(ctx, actors.Config{
			RemoteAddr: freeAddr(), Provider: provider, Users: store, Passwords: hasher, Logger: logger,
			Guilds: store, Channels: store, Writer: writer, IDs: ids, Fanout: fwd,
		})
		if err != nil {
			envErr = err
			return
		}
		tokens := token.NewIssuer(token.Config{Keys: keys})
		cfg := Config{
			Tokens: tokens, Store: store, Users: system.Users(), Guilds: system.Guilds(), DMs: system.Channels(),
			PresenceGrace: -1, SweepInterval: 50 * time.Millisecond, Logger: logger, Bots: store,
			Cluster: system,
		}
		gw := New(cfg)
		fwd.to.Store(gw)
		system.SetSessionHost(gw)
		api := rest.New(rest.Config{
			Accounts: store, Users: system.Users(), Tokens: tokens, Passwords: hasher, IDs: ids, Logger: logger,
			Applications: store, Guilds: system.Guilds(), Lookup: store, Channels: system.Channels(), Messages: store,
		})
		srv := httptest.NewServer(mux(gw, api.Handler()))
		shared = &env{url: srv.URL, wsURL: "ws" + strings.TrimPrefix(srv.URL, "http") + "/gateway",
			store: store, system: system, gw: gw, cfg: cfg}
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

// mux serves the gateway and the API on one listener, as cmd/accord does.
func mux(gw http.Handler, api http.Handler) http.Handler {
	m := http.NewServeMux()
	m.Handle("/gateway", gw)
	m.Handle("/gateway/", gw)
	m.Handle("/", api)
	return m
}

// extraServer is another gateway over the same node with cfg changed by
// edit, on its own listener; grains do not publish to it (tests call its
// Publish).
func (e *env) extraServer(t testing.TB, edit func(*Config)) (*Server, string) {
	t.Helper()
	cfg := e.cfg
	edit(&cfg)
	s := New(cfg)
	srv := httptest.NewServer(mux(s, http.NotFoundHandler()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		srv.Close()
	})
	return s, "ws" + strings.TrimPrefix(srv.URL, "http") + "/gateway"
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t testing.TB, method, path, auth string, body any) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		buf, _ := json.Marshal(body)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func expect(t testing.TB, r resp, status int) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

var userSeq atomic.Int64

type account struct {
	id, username, access string
}

func (a account) auth() string { return "Bearer " + a.access }

func (a account) idInt() int64 {
	n, _ := strconv.ParseInt(a.id, 10, 64)
	return n
}

func (e *env) register(t testing.TB) account {
	t.Helper()
	n := userSeq.Add(1)
	name := fmt.Sprintf("gw%d_%d", n, time.Now().UnixNano()%100000)
	r := expect(t, e.do(t, "POST", "/api/auth/register", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": "password-" + name}), 201)
	u := r.body["user"].(map[string]any)
	return account{id: u["id"].(string), username: name, access: r.body["access_token"].(string)}
}

// bot creates an application (owned by a fresh account) through the API;
// the account returned is its bot, with the bot token as access.
func (e *env) bot(t testing.TB) account {
	t.Helper()
	b, _ := e.application(t)
	return b
}

// application creates an application owned by a fresh account and returns
// its bot and the owner.
func (e *env) application(t testing.TB) (bot, owner account) {
	t.Helper()
	owner = e.register(t)
	n := userSeq.Add(1)
	r := expect(t, e.do(t, "POST", "/api/v10/applications", owner.auth(), map[string]any{"name": fmt.Sprintf("bot%d", n)}), 201)
	b := r.body["bot"].(map[string]any)
	return account{id: b["id"].(string), username: b["username"].(string), access: b["token"].(string)}, owner
}

type guild struct {
	id, general string
	owner       account
}

func (e *env) createGuild(t testing.TB, owner account, name string) guild {
	t.Helper()
	r := expect(t, e.do(t, "POST", "/api/v10/guilds", owner.auth(), map[string]any{"name": name}), 201)
	g := guild{id: r.body["id"].(string), owner: owner}
	chans := e.do(t, "GET", "/api/v10/guilds/"+g.id+"/channels", owner.auth(), nil)
	var list []map[string]any
	_ = json.Unmarshal([]byte(chans.raw), &list)
	for _, ch := range list {
		if ch["name"] == "general" {
			g.general = ch["id"].(string)
		}
	}
	return g
}

func (e *env) join(t testing.TB, g guild, who account) {
	t.Helper()
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", g.owner.auth(),
		map[string]any{"unique": true}), 200)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+inv.body["code"].(string), who.auth(), nil), 200)
}

func (e *env) send(t testing.TB, who account, channel, content string) string {
	t.Helper()
	r := expect(t, e.do(t, "POST", "/api/v10/channels/"+channel+"/messages", who.auth(),
		map[string]any{"content": content}), 200)
	return r.body["id"].(string)
}

// hide denies who VIEW_CHANNEL in channel.
func (e *env) hide(t testing.TB, g guild, channel string, who account) {
	t.Helper()
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+channel+"/permissions/"+who.id, g.owner.auth(), map[string]any{
		"type": 1, "allow": "0", "deny": "1024"}), 204)
}

func (e *env) createChannel(t testing.TB, g guild, name string) string {
	t.Helper()
	r := expect(t, e.do(t, "POST", "/api/v10/guilds/"+g.id+"/channels", g.owner.auth(), map[string]any{"name": name}), 201)
	return r.body["id"].(string)
}

// checkFor polls fn every every until it returns nil or total passes.
func checkFor(t testing.TB, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}
