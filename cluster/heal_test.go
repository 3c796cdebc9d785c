package cluster

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func TestMustRestart(t *testing.T) {
	for _, tc := range []struct {
		mine, back []string
		want       bool
	}{
		{[]string{"a", "b"}, []string{"c"}, false},
		{[]string{"c"}, []string{"a", "b"}, true},
		{[]string{"a"}, []string{"b"}, false}, // tie: the smallest id stays
		{[]string{"b"}, []string{"a"}, true},
		{[]string{"b", "c"}, []string{"a", "d"}, true},
		{[]string{"a", "d"}, []string{"b", "c"}, false},
	} {
		if got := mustRestart(tc.mine, tc.back); got != tc.want {
			t.Errorf("mustRestart(%v, %v) = %v, want %v", tc.mine, tc.back, got, tc.want)
		}
		// Both sides reach the same verdict.
		if mustRestart(tc.back, tc.mine) == mustRestart(tc.mine, tc.back) {
			t.Errorf("sides %v and %v both decide %v", tc.mine, tc.back, tc.want)
		}
	}
}

func TestFailuresRemembersDeadNotLeft(t *testing.T) {
	var f failures
	f.left(&memberlist.Node{Name: "dead", State: memberlist.StateDead})
	f.left(&memberlist.Node{Name: "left", State: memberlist.StateLeft})
	alive := []Member{{ID: "dead"}, {ID: "left"}, {ID: "other"}}
	if back := f.returning(alive, time.Now()); len(back) != 1 || back[0] != "dead" {
		t.Fatalf("returning = %v, want [dead]", back)
	}
	if back := f.returning(alive, time.Now().Add(failedMemory+time.Second)); len(back) != 0 {
		t.Fatalf("returning after failedMemory = %v, want none", back)
	}
	if f.message([]byte("something else")) {
		t.Fatal("a foreign message was taken as an eviction")
	}
	if !f.message(append(evictMsg, "node-x"...)) || f.evictedBy != "node-x" {
		t.Fatalf("evict message not recorded: %q", f.evictedBy)
	}
}

// TestSameAdvertisedAddress: a node that advertises the remoting address
// of a member already there stops with an error naming the clash; the
// older node keeps it out of its topology.
func TestSameAdvertisedAddress(t *testing.T) {
	a := startNode(t, "node-a", "127.0.0.1:"+itoa(freePort(t)), nil, nil)
	logs := &logRecorder{}
	b := &testNode{p: New(Config{GossipAddr: "127.0.0.1:" + itoa(freePort(t)), Seeds: []string{a.p.self.GossipAddr},
		Logger: testLogger(logs, "node-b"), Debounce: 100 * time.Millisecond}), sink: &sinkRecorder{}, logs: logs, id: "node-b"}
	if err := b.p.start("node-b", remoteAddrFor("node-a"), []string{"User"}, b.sink.update); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.p.Shutdown(false) })
	select {
	case <-b.p.Evicted():
	case <-time.After(15 * time.Second):
		t.Fatal("the younger node with a taken address did not stop")
	}
	if err := b.p.EvictedErr(); err == nil || !strings.Contains(err.Error(), "advertises this node's address") {
		t.Fatalf("EvictedErr = %v", err)
	}
	select {
	case <-a.p.Evicted():
		t.Fatal("the older node stopped too")
	default:
	}
	for _, m := range a.p.Members() {
		if m.ID == "node-b" {
			t.Fatal("the older node published the clashing member")
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
