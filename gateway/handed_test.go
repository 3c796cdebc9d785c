package gateway

import (
	"slices"
	"testing"
	"time"

	"github.com/accordchat/accord/actors"
)

// TestHandedOverSessionDropsLateCopies: after a hand-over, a copy of an
// event the previous node had already stamped can still arrive from the
// publishing node (its message and the old node's answer travel on
// different streams). The session drops it instead of stamping it again,
// for handedWindow; other events go through.
func TestHandedOverSessionDropsLateCopies(t *testing.T) {
	ss := &session{id: "s", userID: 1}
	ss.replay.max = 100
	now := time.Now()
	ss.handed, ss.handedUntil = map[uint64]struct{}{42: {}}, now.Add(handedWindow)
	event := func(id uint64) *prepared {
		return &prepared{ev: &actors.Event{ID: id, Type: "MESSAGE_CREATE", Recipients: []int64{1}}, d: &dispatch{ev: id}}
	}
	w := &fanWorker{}

	ss.deliver([]*prepared{event(42), event(43)}, w)
	if ss.seq != 1 || !slices.Equal(ss.replay.events(), []uint64{43}) {
		t.Fatalf("seq %d, kept events %v; want 1 and [43]: the copy of 42 the old node stamped was stamped again", ss.seq, ss.replay.events())
	}

	// Past the window the set is dropped: nothing is held back for good.
	ss.handedUntil = now.Add(-time.Second)
	ss.deliver([]*prepared{event(42)}, w)
	if ss.seq != 2 || ss.handed != nil {
		t.Fatalf("after the window: seq %d, handed %v; want 2 and nil", ss.seq, ss.handed)
	}
}
