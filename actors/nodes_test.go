package actors

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/accordchat/accord/proto/nodepb"
)

// TestGroupsReachUnsyncedPeers: events go to the peers hosting their
// recipients, with just those recipients; a peer whose full state has not
// arrived yet gets every recipient, since it may host any of them.
func TestGroupsReachUnsyncedPeers(t *testing.T) {
	n := &nodes{s: &System{log: slog.New(slog.DiscardHandler)}, peers: map[string]*peer{}, byTag: map[string]*peer{},
		users: map[int64][]*peer{}, gone: map[string]struct{}{}}
	n.mu.Lock()
	n.addPeerLocked("node-a", "127.0.0.1:1")
	n.addPeerLocked("node-b", "127.0.0.1:2")
	n.mu.Unlock()
	groups := func(recipients ...int64) map[string][]int64 {
		n.mu.RLock()
		defer n.mu.RUnlock()
		out := map[string][]int64{}
		for _, g := range n.groupsLocked(recipients) {
			out[g.p.id] = slices.Sorted(slices.Values(g.users))
		}
		return out
	}

	// Neither peer has sent its full state: both get everyone.
	got := groups(1, 2, 3)
	if !slices.Equal(got["node-a"], []int64{1, 2, 3}) || !slices.Equal(got["node-b"], []int64{1, 2, 3}) {
		t.Fatalf("before any full state: %v, want every recipient to both peers", got)
	}

	// a's full state: it hosts user 1. b is still unknown.
	n.apply(&nodepb.States{NodeId: "node-a", Full: true, Users: []*nodepb.UserState{{UserId: 1, Present: true}}})
	got = groups(1, 2, 3)
	if !slices.Equal(got["node-a"], []int64{1}) || !slices.Equal(got["node-b"], []int64{1, 2, 3}) {
		t.Fatalf("after a's full state: %v, want a: [1], b: [1 2 3]", got)
	}
	if got := groups(2); len(got["node-a"]) != 0 {
		t.Fatalf("an event for user 2 went to a, which hosts none of them: %v", got)
	}

	// b's full state: it hosts user 3. Now only hosts get events.
	n.apply(&nodepb.States{NodeId: "node-b", Full: true, Users: []*nodepb.UserState{{UserId: 3, Present: true}}})
	got = groups(1, 2, 3)
	if len(got) != 2 || !slices.Equal(got["node-a"], []int64{1}) || !slices.Equal(got["node-b"], []int64{3}) {
		t.Fatalf("after both full states: %v, want a: [1], b: [3]", got)
	}
	if got := groups(2); len(got) != 0 {
		t.Fatalf("an event for user 2, hosted nowhere else: %v, want no remote message", got)
	}
	if n.unsynced != 0 {
		t.Fatalf("unsynced = %d after both full states", n.unsynced)
	}

	// A peer that leaves before its full state arrived is no longer owed one.
	n.mu.Lock()
	c := n.addPeerLocked("node-c", "127.0.0.1:3")
	n.dropPeerLocked(c)
	n.mu.Unlock()
	if n.unsynced != 0 {
		t.Fatalf("unsynced = %d after an unsynced peer left", n.unsynced)
	}
}
