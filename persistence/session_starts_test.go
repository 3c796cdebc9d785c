package persistence_test

import (
	"context"
	"sync"
	"testing"

	"github.com/accordchat/accord/persistence"
)

// TestStartSessionLimit: starts are counted per bot within the window and
// refused past the limit, also when they race.
func TestStartSessionLimit(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for range 8 {
		wg.Go(func() {
			ok, _, err := s.StartSession(ctx, 42, 5)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				accepted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if accepted != 5 {
		t.Fatalf("%d of 8 concurrent starts accepted, want 5", accepted)
	}
	used, reset, err := s.SessionStarts(ctx, 42)
	if err != nil || used != 5 || reset <= 0 || reset > persistence.SessionStartWindow {
		t.Fatalf("SessionStarts = %d, %v, %v", used, reset, err)
	}
	if used, reset, _ := s.SessionStarts(ctx, 43); used != 0 || reset != persistence.SessionStartWindow {
		t.Fatalf("another bot: %d, %v", used, reset)
	}
}
