package rest_test

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

// env is one node's API over real PostgreSQL and a real single-node actor
// cluster, shared by the package's tests (protoactor allows one cluster per
// process). Tests use distinct user names.
type env struct {
	url    string
	store  *persistence.Store
	keys   *persistence.Keyring
	system *actors.System
}

// events records every event the grains emit, for tests to observe at the
// fan-out interface.
var events = &eventLog{}

type eventLog struct {
	mu  sync.Mutex
	all []actors.Event
	// muted drops events instead of keeping them (the benchmark, whose
	// hundreds of thousands of events no test reads).
	muted bool
}

func (l *eventLog) Publish(ev actors.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.muted {
		l.all = append(l.all, ev)
	}
}

// mute stops keeping events until the returned function is called.
func (l *eventLog) mute() (unmute func()) {
	l.mu.Lock()
	l.muted = true
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		l.muted = false
		l.mu.Unlock()
	}
}

// snapshot copies every event so far.
func (l *eventLog) snapshot() []actors.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]actors.Event(nil), l.all...)
}

// find returns the events of type typ whose data contains substr.
func (l *eventLog) find(typ, substr string) []actors.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []actors.Event
	for _, ev := range l.all {
		if ev.Type == typ && strings.Contains(string(ev.Data), substr) {
			out = append(out, ev)
		}
	}
	return out
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// keepTB lends a test's TB to pgtest without its cleanup, so the shared
// database outlives the first test (the server goes at the end of the binary).
type keepTB struct{ testing.TB }

func (keepTB) Cleanup(func()) {}

func testEnv(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() {
		ctx := context.Background()
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		var store *persistence.Store
		store, envErr = persistence.Open(ctx, pgtest.NewDatabase(keepTB{t}))
		if envErr != nil {
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
		provider := cluster.New(cluster.Config{GossipAddr: freeAddr(), Logger: logger})
		system, err := actors.Start(ctx, actors.Config{
			RemoteAddr: freeAddr(), Provider: provider, Users: store, Passwords: hasher, Logger: logger,
			Guilds: store, Channels: store, Writer: writer, IDs: ids, Fanout: events,
		})
		if err != nil {
			envErr = err
			return
		}
		api := rest.New(rest.Config{
			Accounts: store, Users: system.Users(), Tokens: token.NewIssuer(token.Config{Keys: keys}),
			Passwords: hasher, IDs: ids, Logger: logger, Applications: store, Guilds: system.Guilds(), Lookup: store,
			Channels: system.Channels(), Messages: store,
			Ready: func(ctx context.Context) error { return store.Ping(ctx) },
		})
		srv := httptest.NewServer(api.Handler())
		shared = &env{url: srv.URL, store: store, keys: keys, system: system}
	})
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
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
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
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

func expect(t testing.TB, r resp, status int, code float64) resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if code >= 0 && r.body["code"] != code {
		t.Fatalf("code %v, want %v: %s", r.body["code"], code, r.raw)
	}
	if r.raw != "" && r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	return r
}

var userSeq atomic.Int64

type account struct {
	id, username, discriminator, email, password, access, refresh string
}

// register makes a fresh account with a unique name.
func (e *env) register(t testing.TB) account {
	t.Helper()
	n := userSeq.Add(1)
	a := account{username: fmt.Sprintf("user%d_%d", n, time.Now().UnixNano()%100000), password: "password-" + fmt.Sprint(n)}
	a.email = a.username + "@example.com"
	r := expect(t, e.do(t, "POST", "/api/auth/register", "", map[string]string{
		"username": a.username, "email": a.email, "password": a.password}), 201, -1)
	u := r.body["user"].(map[string]any)
	a.id, a.discriminator = u["id"].(string), u["discriminator"].(string)
	a.access, a.refresh = r.body["access_token"].(string), r.body["refresh_token"].(string)
	return a
}

func jsonUnmarshal(raw string, v any) error { return json.Unmarshal([]byte(raw), v) }
