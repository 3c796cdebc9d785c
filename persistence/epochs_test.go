package persistence_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/accordchat/accord/persistence"
)

func TestAcquireChannelEpoch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		if got, err := s.AcquireChannelEpoch(ctx, 42); err != nil || got != want {
			t.Fatalf("epoch %d (%v), want %d", got, err, want)
		}
	}
	if got, err := s.AcquireChannelEpoch(ctx, 43); err != nil || got != 1 {
		t.Fatalf("another channel starts at %d (%v), want 1", got, err)
	}
	// Concurrent activations each get their own epoch.
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []int64
	)
	for range 10 {
		wg.Go(func() {
			e, err := s.AcquireChannelEpoch(ctx, 44)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(got)
	if want := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("concurrent epochs %v, want %v", got, want)
	}
}

// A single-row write under a superseded epoch fails and changes nothing.
func TestFencedSingleRowWrites(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	old, _ := s.AcquireChannelEpoch(ctx, 1)
	writeMessages(t, s, old, msg(1, 1, "hello"))
	cur, _ := s.AcquireChannelEpoch(ctx, 1)
	id := mid(1)
	now := timeNow()
	for name, write := range map[string]func(epoch int64) error{
		"edit": func(e int64) error {
			_, err := s.EditMessage(ctx, e, 1, id, "changed", now, nil, nil, false)
			return err
		},
		"pin":      func(e int64) error { return s.SetPinned(ctx, e, 1, id, &now) },
		"react":    func(e int64) error { _, err := s.AddReaction(ctx, e, 1, id, "👍", 5); return err },
		"unreact":  func(e int64) error { _, err := s.RemoveReaction(ctx, e, 1, id, "👍", 5); return err },
		"clear":    func(e int64) error { return s.RemoveAllReactions(ctx, e, 1, id) },
		"clearone": func(e int64) error { return s.RemoveEmojiReactions(ctx, e, 1, id, "👍") },
		"delete":   func(e int64) error { _, err := s.DeleteMessages(ctx, e, 1, []int64{id}); return err },
	} {
		if err := write(old); !errors.Is(err, persistence.ErrFenced) {
			t.Errorf("%s under a stale epoch: %v, want ErrFenced", name, err)
		}
		if err := write(cur + 1); !errors.Is(err, persistence.ErrFenced) {
			t.Errorf("%s under a future epoch: %v, want ErrFenced", name, err)
		}
	}
	m, err := s.MessageByID(ctx, 1, id)
	if err != nil || m.Content != "hello" || m.PinnedAt != nil {
		t.Fatalf("fenced writes changed the message: %+v %v", m, err)
	}
	if r, _ := s.ReactionsFor(ctx, 1, []int64{id}, 5); len(r) != 0 {
		t.Fatalf("fenced reaction stored: %v", r)
	}
	// A channel nobody owns is fenced too.
	if err := s.SetPinned(ctx, 1, 99, id, &now); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("write to an unowned channel: %v", err)
	}
}
