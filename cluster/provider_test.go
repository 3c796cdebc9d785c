package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// sinkRecorder stands in for protoactor's MemberList.
type sinkRecorder struct {
	mu    sync.Mutex
	calls []pcluster.Members
}

func (r *sinkRecorder) update(m pcluster.Members) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, m)
}

func (r *sinkRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *sinkRecorder) last() pcluster.Members {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		return nil
	}
	return r.calls[len(r.calls)-1]
}

// logRecorder keeps the messages logged at Info and above.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecorder) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelInfo }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }
func (l *logRecorder) has(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.msgs, msg)
}

func testLogger(logs *logRecorder, id string) *slog.Logger {
	if os.Getenv("CLUSTER_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", id)
	}
	return slog.New(logs)
}

type testNode struct {
	p    *Provider
	sink *sinkRecorder
	logs *logRecorder
	id   string
}

// startNode starts a provider as node id on gossipAddr, with a fake remote
// address derived from the id.
func startNode(t *testing.T, id, gossipAddr string, seeds []string, tweak func(*Config)) *testNode {
	t.Helper()
	logs := &logRecorder{}
	cfg := Config{
		GossipAddr: gossipAddr,
		Seeds:      seeds,
		Logger:     testLogger(logs, id),
		Debounce:   100 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	n := &testNode{p: New(cfg), sink: &sinkRecorder{}, logs: logs, id: id}
	// memberlist repairs missed gossip by push/pull; 15 s on loopback is
	// longer than these tests want to wait.
	n.p.tune = func(mc *memberlist.Config) { mc.PushPullInterval = time.Second }
	if err := n.p.start(id, remoteAddrFor(id), []string{"User", "Guild"}, n.sink.update); err != nil {
		t.Fatalf("start %s: %v", id, err)
	}
	t.Cleanup(func() { _ = n.p.Shutdown(false) })
	return n
}

func remoteAddrFor(id string) string {
	var h int
	for _, c := range id {
		h = h*31 + int(c)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+h%10000))
}

// freePort returns a loopback port that was free for both TCP and UDP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		_ = l.Close()
		if err == nil {
			_ = u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// checkFor polls fn until it returns nil or total passes.
func checkFor(t *testing.T, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(every)
	}
}

func ids(members []Member) []string {
	out := make([]string, len(members))
	for i, m := range members {
		out[i] = m.ID
	}
	return out
}

func waitReady(t *testing.T, n *testNode) {
	t.Helper()
	select {
	case <-n.p.Ready():
	case <-time.After(5 * time.Second):
		t.Fatalf("%s never became ready", n.id)
	}
}

func TestSeedsIncludingSelfFormOneCluster(t *testing.T) {
	addrA := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	addrB := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	seeds := []string{addrA, addrB} // every node gets the same list, itself included

	a := startNode(t, "node-a", addrA, seeds[:1], nil) // only seed: itself
	waitReady(t, a)
	if got := ids(a.p.Members()); !slices.Equal(got, []string{"node-a"}) {
		t.Fatalf("alone: members = %v", got)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if !a.logs.has("cluster: every seed is this node; running alone until another node joins") {
			return fmt.Errorf("a node whose only seed is itself did not settle as alone")
		}
		return nil
	})

	b := startNode(t, "node-b", addrB, seeds, nil)
	for _, n := range []*testNode{a, b} {
		checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
			if got := ids(n.p.Members()); !slices.Equal(got, []string{"node-a", "node-b"}) {
				return fmt.Errorf("%s members = %v", n.id, got)
			}
			return nil
		})
	}

	// What protoactor received: the full set, with remoting addresses and kinds.
	last := b.sink.last()
	if len(last) != 2 {
		t.Fatalf("sink got %d members", len(last))
	}
	for _, m := range last {
		if want := remoteAddrFor(m.Id); m.Address() != want {
			t.Errorf("member %s remote = %s, want %s", m.Id, m.Address(), want)
		}
		if !slices.Equal(m.Kinds, []string{"Guild", "User"}) {
			t.Errorf("member %s kinds = %v", m.Id, m.Kinds)
		}
	}
	for _, m := range a.p.Members() {
		if m.ID == "node-b" && m.GossipAddr != addrB {
			t.Errorf("node-b gossip address = %s, want %s", m.GossipAddr, addrB)
		}
	}
}

func TestBurstOfJoinsIsDebounced(t *testing.T) {
	const joiners = 6
	slow := func(c *Config) { c.Debounce = 300 * time.Millisecond; c.MaxDebounce = 2 * time.Second }
	a := startNode(t, "hub", "127.0.0.1:0", nil, slow)
	waitReady(t, a)
	if c := a.sink.count(); c != 1 {
		t.Fatalf("initial publishes = %d, want 1", c)
	}
	seed := a.p.self.GossipAddr

	var wg sync.WaitGroup
	nodes := make([]*testNode, joiners)
	for i := range joiners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startNode(t, fmt.Sprintf("joiner-%d", i), "127.0.0.1:0", []string{seed}, nil)
		}()
	}
	wg.Wait()

	want := joiners + 1
	checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		if got := len(a.sink.last()); got != want {
			return fmt.Errorf("hub published %d members, want %d", got, want)
		}
		return nil
	})
	time.Sleep(700 * time.Millisecond) // let any straggling publish happen
	// One publish for the hub alone, then the burst: without coalescing it
	// would be one per join (7 in all).
	if c := a.sink.count(); c > 3 {
		t.Fatalf("hub pushed %d topologies for a burst of %d joins; want at most 3", c, joiners)
	}
	if got := len(a.sink.last()); got != want {
		t.Fatalf("last topology has %d members, want %d", got, want)
	}
	for _, n := range nodes { // gossip spreads the rest to every joiner
		checkFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			if got := len(n.sink.last()); got != want {
				return fmt.Errorf("%s last topology has %d members, want %d (memberlist has %d, published %v)", n.id, got, want, n.p.ml.NumMembers(), ids(n.p.Members()))
			}
			return nil
		})
	}
}

func TestGracefulLeaveIsSeenQuickly(t *testing.T) {
	a := startNode(t, "stay", "127.0.0.1:0", nil, nil)
	waitReady(t, a)
	b := startNode(t, "go", "127.0.0.1:0", []string{a.p.self.GossipAddr}, nil)
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := len(a.p.Members()); got != 2 {
			return fmt.Errorf("members = %d", got)
		}
		return nil
	})

	start := time.Now()
	if err := b.p.Shutdown(true); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
	if err := b.p.Shutdown(true); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	// A leave is announced, not detected: no suspicion timeout to wait for.
	checkFor(t, 2*time.Second, 20*time.Millisecond, func() error {
		if got := ids(a.p.Members()); !slices.Equal(got, []string{"stay"}) {
			return fmt.Errorf("after leave: members = %v", got)
		}
		return nil
	})
	t.Logf("leave seen after %v", time.Since(start))
	if err := b.p.start("go-again", remoteAddrFor("x"), nil, b.sink.update); err != ErrShutdown {
		t.Fatalf("start after shutdown = %v, want ErrShutdown", err)
	}
}

func TestReadyOnlyOnceJoined(t *testing.T) {
	addrA := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	// b's seed is not up yet: b gossips, but is not ready.
	b := startNode(t, "late-b", "127.0.0.1:0", []string{addrA}, func(c *Config) { c.JoinGrace = time.Minute })
	select {
	case <-b.p.Ready():
		t.Fatal("a node whose seed never answered is ready")
	case <-time.After(time.Second):
	}
	a := startNode(t, "late-a", addrA, nil, nil)
	waitReady(t, a) // no seeds: the first node is ready at once
	waitReady(t, b)
	if got := ids(b.p.Members()); !slices.Equal(got, []string{"late-a", "late-b"}) {
		t.Fatalf("b ready with members %v, want both", got)
	}
	if addr, ok := b.p.GossipAddr("late-a"); !ok || addr != addrA {
		t.Fatalf("GossipAddr(late-a) = %q, %v; want %s", addr, ok, addrA)
	}
	if _, ok := b.p.GossipAddr("nobody"); ok {
		t.Fatal("GossipAddr knows a member that does not exist")
	}
}

func TestReadyAloneAfterJoinGrace(t *testing.T) {
	nobody := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	start := time.Now()
	n := startNode(t, "lonely", "127.0.0.1:0", []string{nobody}, func(c *Config) { c.JoinGrace = 800 * time.Millisecond })
	waitReady(t, n)
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("ready after %v, before the join grace", d)
	}
	if !n.logs.has("cluster: no seed answered; ready alone, still trying to join") {
		t.Fatal("readiness without a join was not logged")
	}
	if got := ids(n.p.Members()); !slices.Equal(got, []string{"lonely"}) {
		t.Fatalf("members = %v", got)
	}
}

func TestEncryptedGossip(t *testing.T) {
	key := []byte("0123456789abcdef")
	withKey := func(k []byte) func(*Config) { return func(c *Config) { c.SecretKey = k } }
	a := startNode(t, "enc-a", "127.0.0.1:0", nil, withKey(key))
	waitReady(t, a)
	b := startNode(t, "enc-b", "127.0.0.1:0", []string{a.p.self.GossipAddr}, withKey(key))
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := len(b.p.Members()); got != 2 {
			return fmt.Errorf("same key: members = %d", got)
		}
		return nil
	})

	// c's only seed refuses it: c becomes ready alone after JoinGrace.
	c := startNode(t, "enc-c", "127.0.0.1:0", []string{a.p.self.GossipAddr}, func(c *Config) {
		c.SecretKey = []byte("another-key-0123")
		c.JoinGrace = 300 * time.Millisecond
	})
	waitReady(t, c)
	time.Sleep(500 * time.Millisecond)
	if got := ids(c.p.Members()); !slices.Equal(got, []string{"enc-c"}) {
		t.Fatalf("wrong key joined anyway: %v", got)
	}
	if got := len(a.p.Members()); got != 2 {
		t.Fatalf("wrong key node visible to a: %d members", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"port 0", Config{GossipAddr: "127.0.0.1:0", Seeds: []string{"10.0.0.1:7946"}}, true},
		{"advertise without port", Config{AdvertiseAddr: "10.0.0.5"}, true},
		{"no port", Config{GossipAddr: "127.0.0.1"}, false},
		{"bad seed", Config{Seeds: []string{"10.0.0.1"}}, false},
		{"short key", Config{SecretKey: []byte("short")}, false},
		{"32-byte key", Config{SecretKey: make([]byte, 32)}, true},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestMetaRoundTripAndLimit(t *testing.T) {
	b, err := encodeMeta(nodeMeta{Remote: "10.0.0.1:8090", Kinds: []string{"User"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMeta(b)
	if err != nil || m.Remote != "10.0.0.1:8090" || !slices.Equal(m.Kinds, []string{"User"}) {
		t.Fatalf("round trip = %+v, %v", m, err)
	}
	if _, err := decodeMeta([]byte(`{"v":1,"r":"nohost"}`)); err == nil {
		t.Fatal("accepted a remote address without port")
	}
	many := make([]string, 100)
	for i := range many {
		many[i] = "kind-" + strconv.Itoa(i)
	}
	if _, err := encodeMeta(nodeMeta{Remote: "10.0.0.1:8090", Kinds: many}); err == nil {
		t.Fatal("accepted metadata over memberlist's limit")
	}
}

func TestMemberlistLogsReachSlog(t *testing.T) {
	logs := &logRecorder{}
	l := newStdLogger(slog.New(logs))
	l.Printf("[DEBUG] memberlist: chatty")
	l.Printf("[WARN] memberlist: Was able to connect to x but other probes failed")
	l.Printf("[ERR] memberlist: boom")
	logs.mu.Lock()
	defer logs.mu.Unlock()
	want := []string{"Was able to connect to x but other probes failed", "boom"}
	if !slices.Equal(logs.msgs, want) {
		t.Fatalf("messages = %q, want %q", strings.Join(logs.msgs, "|"), want)
	}
}
