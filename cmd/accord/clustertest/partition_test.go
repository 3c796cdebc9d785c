package clustertest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// netns is a network namespace this test made, joined to the host by two
// veth pairs: one carries the cluster's gossip and remoting (cut to make a
// partition), the other the test's own HTTP and gateway traffic.
type netns struct {
	name                   string
	clusterHost, clusterNS string // addresses on the cluster link
	clientNS               string // the namespace's address on the client link
	hostLink               string // host side of the cluster link
}

func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns makes the namespace, or skips the test with the reason when it
// cannot (not root, no iproute2).
func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("partition: skipped, not running as root (network namespaces need it)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("partition: skipped, no ip command (iproute2)")
	}
	id := os.Getpid() % 100000
	octet := os.Getpid()%250 + 1
	ns := &netns{name: fmt.Sprintf("accpt%d", id),
		clusterHost: fmt.Sprintf("10.213.%d.1", octet), clusterNS: fmt.Sprintf("10.213.%d.2", octet),
		clientNS: fmt.Sprintf("10.214.%d.2", octet), hostLink: fmt.Sprintf("apc%d", id)}
	if out, err := exec.Command("ip", "netns", "add", ns.name).CombinedOutput(); err != nil {
		t.Skipf("partition: skipped, cannot make a network namespace: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns.name).Run() })
	in := func(args ...string) { run(t, append([]string{"ip", "netns", "exec", ns.name}, args...)...) }
	for _, l := range []struct{ host, peer, hostIP, nsIP string }{
		{ns.hostLink, fmt.Sprintf("apn%d", id), ns.clusterHost, ns.clusterNS},
		{fmt.Sprintf("aqc%d", id), fmt.Sprintf("aqn%d", id), fmt.Sprintf("10.214.%d.1", octet), ns.clientNS},
	} {
		run(t, "ip", "link", "add", l.host, "type", "veth", "peer", "name", l.peer)
		run(t, "ip", "link", "set", l.peer, "netns", ns.name)
		run(t, "ip", "addr", "add", l.hostIP+"/24", "dev", l.host)
		run(t, "ip", "link", "set", l.host, "up")
		in("ip", "addr", "add", l.nsIP+"/24", "dev", l.peer)
		in("ip", "link", "set", l.peer, "up")
	}
	in("ip", "link", "set", "lo", "up")
	return ns
}

// freePortOn picks a free port on a host address.
func freePortOn(t testing.TB, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestPartition cuts one of three nodes off the other two (it still
// reaches PostgreSQL and its own clients) and heals the cut: every
// acknowledged message is stored once, whichever side took it (owner epochs
// refuse a write from an activation that no longer owns its channel), and
// after the heal the cut-off node, the smaller side, restarts with a new
// identity instead of splitting the grains for good.
func TestPartition(t *testing.T) {
	ns := newNetns(t)
	full := os.Getenv("ACCORD_CLUSTER_TEST") == "full"
	cut := 12 * time.Second
	if full {
		cut = 30 * time.Second
	}
	specs := []nodeSpec{
		{http: freePort(t), gossip: freePortOn(t, ns.clusterHost), remote: freePortOn(t, ns.clusterHost)},
		{http: freePort(t), gossip: freePortOn(t, ns.clusterHost), remote: freePortOn(t, ns.clusterHost)},
		{http: ns.clientNS + ":18080", gossip: ns.clusterNS + ":17946", remote: ns.clusterNS + ":18090",
			wrap: []string{"ip", "netns", "exec", ns.name}},
	}
	c := startClusterOf(t, specs)
	k := newChecker(t, c, 1)
	cutoff := c.nodes[2]

	p := k.newPhase("partition", 6)
	p.load(300, 400)
	time.Sleep(3 * time.Second)
	p.faultAt = time.Now()
	run(t, "ip", "link", "set", ns.hostLink, "down")
	t.Logf("cluster link down for %v", cut)
	time.Sleep(cut)
	run(t, "ip", "link", "set", ns.hostLink, "up")
	healed := time.Now()
	select {
	case <-cutoff.done:
		t.Logf("the cut-off node exited %v after the heal: %v", time.Since(healed).Round(100*time.Millisecond), cutoff.err)
	case <-time.After(45 * time.Second):
		t.Fatalf("the cut-off node is still running 45 s after the heal")
	}
	cutoff.isolated.Store(true)
	if !strings.Contains(cutoff.logs.String(), "must restart with a new identity") {
		t.Errorf("the cut-off node did not say why it exited")
	}
	time.Sleep(3 * time.Second)
	p.stopLoad()
	r := p.check()
	report(t, []result{r}, map[string][]string{"partition": {"lost", "dup commits", "dup events"}})
	for _, n := range c.nodes[:2] {
		if n.metric("accord_cluster_peers") != 1 {
			t.Errorf("%s has %v peers after the heal, want 1", n.name, n.metric("accord_cluster_peers"))
		}
	}
}
