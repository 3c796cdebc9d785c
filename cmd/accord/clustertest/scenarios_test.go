package clustertest

import (
	"os"
	"testing"
	"time"
)

// TestScenarios is `make cluster-test`: three nodes, watchers spread over
// them, a steady load of REST sends, and in turn: plain operation, SIGKILL
// of a node, a node joining, SIGTERM of a node. It prints the table of
// counts and fails where a count must be zero. `make test` runs it with
// shorter phases; ACCORD_CLUSTER_TEST=full (make cluster-test) runs the
// full ones.
func TestScenarios(t *testing.T) {
	full := os.Getenv("ACCORD_CLUSTER_TEST") == "full"
	scale := func(short, long time.Duration) time.Duration {
		if full {
			return long
		}
		return short
	}
	rate := 550
	c := startCluster(t, 3)
	k := newChecker(t, c, 2)
	var results []result
	all := []string{"lost", "dup commits", "dup events", "out of order", "missed events", "late failures"}
	strict := map[string][]string{}

	// Clients on the three nodes see the same messages in the same order.
	p := k.newPhase("steady", 3)
	p.load(rate, 400)
	time.Sleep(scale(4*time.Second, 15*time.Second))
	p.stopLoad()
	results = append(results, p.check())
	strict["steady"] = all

	// SIGKILL: acknowledged messages survive, the victim's clients come
	// back within 15 s, sends from 15 s after the kill on succeed. Events
	// in the window a client had no session are excused (a crash costs its
	// own clients their sessions).
	p = k.newPhase("sigkill", 6)
	p.load(rate, 400)
	time.Sleep(3 * time.Second)
	victim := c.nodes[1]
	victim.isolated.Store(true)
	p.faultAt = time.Now()
	victim.kill()
	time.Sleep(scale(18*time.Second, 25*time.Second))
	p.stopLoad()
	r := p.check()
	results = append(results, r)
	strict["sigkill"] = []string{"lost", "dup commits", "dup events", "out of order", "late failures"}
	if r.maxRecovery > 15*time.Second {
		t.Errorf("sigkill: a client took %v to come back", r.maxRecovery)
	}

	// A node joins under load: grains move, old activations are fenced.
	p = k.newPhase("join", 6)
	p.load(rate, 400)
	time.Sleep(3 * time.Second)
	p.faultAt = time.Now()
	c.add()
	time.Sleep(scale(6*time.Second, 15*time.Second))
	p.stopLoad()
	results = append(results, p.check())
	strict["join"] = []string{"lost", "dup commits", "dup events", "out of order", "missed events"}

	// SIGTERM: the node drains; its clients resume elsewhere, missing
	// nothing.
	p = k.newPhase("sigterm", 6)
	p.load(rate, 400)
	time.Sleep(3 * time.Second)
	leaving := c.nodes[0]
	leaving.isolated.Store(true)
	p.faultAt = time.Now()
	leaving.term(40 * time.Second)
	time.Sleep(scale(4*time.Second, 10*time.Second))
	p.stopLoad()
	results = append(results, p.check())
	strict["sigterm"] = all

	report(t, results, strict)
}
