package clustertest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/accordchat/accord/persistence/pgtest"
)

// binary is the accord binary, built once for the package.
var accordBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "accord-clustertest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	accordBin = filepath.Join(dir, "accord")
	if out, err := exec.Command("go", "build", "-o", accordBin, "..").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build accord: %v\n%s", err, out)
		os.Exit(1)
	}
	code := pgtest.Main(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// logBuffer keeps a node's output for failure messages.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// node is one `accord serve` process.
type node struct {
	t      testing.TB
	name   string
	args   []string
	env    []string
	http   string // host:port
	gossip string
	wrap   []string // command prefix
	cmd    *exec.Cmd
	// isolated: the checker no longer sends to it (cut off, or leaving).
	isolated atomic.Bool
	logs     *logBuffer
	done     chan struct{}
	err      error
}

func (n *node) url() string   { return "http://" + n.http }
func (n *node) wsURL() string { return "ws://" + n.http + "/gateway" }

// testCluster is a few nodes sharing one PostgreSQL database.
type testCluster struct {
	t     testing.TB
	dsn   string
	nodes []*node
}

// startCluster starts size nodes that seed each other and waits until each
// is ready and knows all the others.
func startCluster(t testing.TB, size int) *testCluster {
	t.Helper()
	specs := make([]nodeSpec, size)
	for i := range specs {
		specs[i] = nodeSpec{http: freePort(t), gossip: freePort(t), remote: freePort(t)}
	}
	return startClusterOf(t, specs)
}

// nodeSpec places one node: its addresses, and a command prefix that runs
// it elsewhere (ip netns exec …).
type nodeSpec struct {
	http, gossip, remote string
	wrap                 []string
}

// startClusterOf starts a node per spec, all seeding each other.
func startClusterOf(t testing.TB, specs []nodeSpec) *testCluster {
	t.Helper()
	c := &testCluster{t: t, dsn: pgtest.NewDatabase(t)}
	size := len(specs)
	var seeds []string
	for i, sp := range specs {
		n := &node{t: t, name: "node" + strconv.Itoa(i+1), http: sp.http, gossip: sp.gossip, wrap: sp.wrap}
		n.args = []string{"serve", "--data-dir", t.TempDir(), "--http-addr", n.http, "--gossip-addr", n.gossip,
			"--remote-addr", sp.remote, "--shutdown-timeout", "20s", "--log-level", "info"}
		seeds = append(seeds, n.gossip)
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		n.args = append(n.args, "--seeds", strings.Join(seeds, ","))
		n.env = append(os.Environ(), "DATABASE_URL="+c.dsn)
		n.start()
	}
	for _, n := range c.nodes {
		c.waitReady(n, size-1)
	}
	return c
}

// add starts one more node seeded with the first node's gossip address.
func (c *testCluster) add() *node {
	c.t.Helper()
	n := &node{t: c.t, name: "node" + strconv.Itoa(len(c.nodes)+1), http: freePort(c.t), gossip: freePort(c.t)}
	n.args = []string{"serve", "--data-dir", c.t.TempDir(), "--http-addr", n.http, "--gossip-addr", n.gossip,
		"--remote-addr", freePort(c.t), "--shutdown-timeout", "20s", "--seeds", c.nodes[0].gossip}
	n.env = append(os.Environ(), "DATABASE_URL="+c.dsn)
	n.isolated.Store(true) // no load until it is ready
	c.nodes = append(c.nodes, n)
	n.start()
	c.waitReady(n, c.alive()-1)
	n.isolated.Store(false)
	return n
}

func (c *testCluster) alive() int {
	k := 0
	for _, n := range c.nodes {
		select {
		case <-n.done:
		default:
			k++
		}
	}
	return k
}

func (n *node) start() {
	argv := append(append(slices.Clone(n.wrap), accordBin), n.args...)
	n.cmd = exec.Command(argv[0], argv[1:]...)
	n.cmd.Env = n.env
	n.logs = &logBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.done = make(chan struct{})
	go func() { n.err = n.cmd.Wait(); close(n.done) }()
	n.t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = n.cmd.Process.Kill()
			<-n.done
		}
		if n.t.Failed() {
			n.t.Logf("--- %s logs ---\n%s", n.name, lastLines(n.logs.String(), 60))
		}
	})
}

func lastLines(s string, k int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > k {
		lines = lines[len(lines)-k:]
	}
	return strings.Join(lines, "\n")
}

// waitReady waits until n answers /readyz and knows peers other nodes.
func (c *testCluster) waitReady(n *node, peers int) {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			c.t.Fatalf("%s exited before ready: %v\n%s", n.name, n.err, n.logs)
		default:
		}
		if resp, err := http.Get(n.url() + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && n.metric("accord_cluster_peers") == float64(peers) {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s not ready with %d peers within 60 s\n%s", n.name, peers, lastLines(n.logs.String(), 40))
}

// metric reads one unlabelled metric (or the sum of a labelled one) from
// n's /metrics; -1 when it cannot.
func (n *node) metric(name string) float64 {
	resp, err := http.Get(n.url() + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum, found := 0.0, false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	if !found {
		return -1
	}
	return sum
}

// sumMetric adds a metric over the live nodes.
func (c *testCluster) sumMetric(name string) float64 {
	s := 0.0
	for _, n := range c.nodes {
		select {
		case <-n.done:
			continue
		default:
		}
		if v := n.metric(name); v > 0 {
			s += v
		}
	}
	return s
}

// term sends SIGTERM and waits for a clean exit.
func (n *node) term(within time.Duration) {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(within):
		n.t.Fatalf("%s did not exit within %v of SIGTERM\n%s", n.name, within, lastLines(n.logs.String(), 40))
	}
	if n.err != nil {
		n.t.Fatalf("%s exited with %v after SIGTERM\n%s", n.name, n.err, lastLines(n.logs.String(), 40))
	}
}

// kill is SIGKILL.
func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// response is an HTTP answer.
type response struct {
	status int
	header http.Header
	raw    []byte
}

func (r response) obj() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.raw, &m)
	return m
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 20 * time.Second}

func (n *node) try(method, path, auth string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, n.url()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, raw: raw}, nil
}

// must does a request and fails unless it answers want.
func (n *node) must(want int, method, path, auth string, body any) response {
	n.t.Helper()
	r, err := n.try(method, path, auth, body)
	if err != nil {
		n.t.Fatalf("%s %s on %s: %v", method, path, n.name, err)
	}
	if r.status != want {
		n.t.Fatalf("%s %s on %s: status %d, want %d: %s", method, path, n.name, r.status, want, r.raw)
	}
	return r
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// user is a registered account.
type user struct {
	id, name, auth string
}

func (c *testCluster) register(n *node, name string) user {
	c.t.Helper()
	r := n.must(201, "POST", "/api/auth/register", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": "correct horse battery"}).obj()
	u, _ := r["user"].(map[string]any)
	return user{id: str(u, "id"), name: name, auth: "Bearer " + str(r, "access_token")}
}

// guildWith creates a guild owned by owner that members join through an
// invite, and returns its id and its #general channel.
func (c *testCluster) guildWith(n *node, owner user, members ...user) (guild, general string) {
	c.t.Helper()
	guild = str(n.must(201, "POST", "/api/v10/guilds", owner.auth, map[string]string{"name": "Cluster"}).obj(), "id")
	var chans []map[string]any
	_ = json.Unmarshal(n.must(200, "GET", "/api/v10/guilds/"+guild+"/channels", owner.auth, nil).raw, &chans)
	for _, ch := range chans {
		if ch["name"] == "general" {
			general = str(ch, "id")
		}
	}
	code := str(n.must(200, "POST", "/api/v10/channels/"+general+"/invites", owner.auth, map[string]any{}).obj(), "code")
	for _, m := range members {
		n.must(200, "POST", "/api/v10/invites/"+code, m.auth, map[string]any{})
	}
	return guild, general
}

// eventually polls fn every 50 ms until it returns "" or total passes.
func eventually(t testing.TB, total time.Duration, fn func() string) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		msg := fn()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", total, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
