package snowflake

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func mustNext(t testing.TB, g *Generator) ID {
	t.Helper()
	id, err := g.Next()
	if err != nil {
		t.Fatalf("Next: %v", err)
	}
	return id
}

var start = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func msOf(id ID) int64 { return int64(id) >> timestampShift }

func TestGeneratorLayout(t *testing.T) {
	clk := newFakeClock(start.Add(123456 * time.Microsecond))
	g := NewGenerator(clk.Now)
	g.SetLease(517, start.Add(time.Hour))
	for i := range 3 {
		id := mustNext(t, g)
		if got, want := id.Time(), start.Add(123*time.Millisecond); !got.Equal(want) {
			t.Errorf("id %d: Time() = %v, want %v", i, got, want)
		}
		if id.Worker() != 517 {
			t.Errorf("id %d: Worker() = %d, want 517", i, id.Worker())
		}
		if id.Sequence() != i {
			t.Errorf("id %d: Sequence() = %d, want %d", i, id.Sequence(), i)
		}
	}
	clk.Add(time.Millisecond)
	if id := mustNext(t, g); id.Sequence() != 0 || !id.Time().Equal(start.Add(124*time.Millisecond)) {
		t.Errorf("next millisecond: time %v sequence %d, want a fresh sequence", id.Time(), id.Sequence())
	}
}

func TestGeneratorLease(t *testing.T) {
	clk := newFakeClock(start)
	g := NewGenerator(clk.Now)

	if _, err := g.Next(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("Next without a lease: %v, want ErrNoLease", err)
	}

	g.SetLease(1, start.Add(10*time.Second))
	prev := mustNext(t, g)

	clk.Add(10*time.Second - time.Nanosecond)
	prev = checkIncreasing(t, prev, mustNext(t, g))

	clk.Add(time.Nanosecond) // now == validUntil
	if _, err := g.Next(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("Next at validUntil: %v, want ErrNoLease", err)
	}
	clk.Add(time.Minute)
	if _, err := g.Next(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("Next after validUntil: %v, want ErrNoLease", err)
	}

	// A late renewal of the same worker resumes issuing.
	g.SetLease(1, clk.Now().Add(10*time.Second))
	prev = checkIncreasing(t, prev, mustNext(t, g))

	// Renewal extends; the zero time revokes.
	g.SetLease(1, clk.Now().Add(time.Hour))
	clk.Add(30 * time.Minute)
	prev = checkIncreasing(t, prev, mustNext(t, g))
	g.SetLease(1, time.Time{})
	if _, err := g.Next(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("Next after revocation: %v, want ErrNoLease", err)
	}
	g.SetLease(1, clk.Now().Add(time.Hour))
	checkIncreasing(t, prev, mustNext(t, g))
}

func TestGeneratorSetLeasePanics(t *testing.T) {
	for _, w := range []int{-1, MaxWorker + 1, 1 << 20} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetLease(%d) did not panic", w)
				}
			}()
			NewGenerator(nil).SetLease(w, time.Now().Add(time.Hour))
		}()
	}
	// The bounds themselves are fine.
	NewGenerator(nil).SetLease(0, time.Now())
	NewGenerator(nil).SetLease(MaxWorker, time.Now())
}

func TestGeneratorClockRange(t *testing.T) {
	clk := newFakeClock(time.UnixMilli(Epoch - 1))
	g := NewGenerator(clk.Now)
	g.SetLease(0, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if _, err := g.Next(); !errors.Is(err, ErrClockRange) {
		t.Fatalf("Next before the epoch: %v, want ErrClockRange", err)
	}
	clk.Add(time.Millisecond)
	if id := mustNext(t, g); id != 0 {
		t.Fatalf("first id at the epoch with worker 0 = %d, want 0", id)
	}

	clk = newFakeClock(time.UnixMilli(Epoch + MaxTimestamp))
	g = NewGenerator(clk.Now)
	g.SetLease(0, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	for range MaxSequence + 1 {
		mustNext(t, g)
	}
	// The last millisecond is used up; borrowing the next one would overflow.
	if _, err := g.Next(); !errors.Is(err, ErrClockRange) {
		t.Fatalf("Next past the timestamp range: %v, want ErrClockRange", err)
	}
	clk.Add(time.Hour)
	if _, err := g.Next(); !errors.Is(err, ErrClockRange) {
		t.Fatalf("Next with the clock past 2084: %v, want ErrClockRange", err)
	}
}

func checkIncreasing(t testing.TB, prev, next ID) ID {
	t.Helper()
	if next <= prev {
		t.Fatalf("ids not increasing: %d (%v w%d s%d) then %d (%v w%d s%d)",
			prev, prev.Time(), prev.Worker(), prev.Sequence(),
			next, next.Time(), next.Worker(), next.Sequence())
	}
	return next
}

// step is one action of a generator scenario.
type step struct {
	advance time.Duration // move the clock first (negative steps it back)
	worker  *int          // if set: SetLease(*worker, far future) before issuing
	n       int           // ids to issue
	// wantMs, when set, is the timestamp (ms after start) of the last id issued.
	wantMs *int64
}

func ms(v int64) *int64 { return &v }

func w(v int) *int { return &v }

func TestGeneratorMonotonic(t *testing.T) {
	const burst = 3*(MaxSequence+1) + 10 // > 4096 ids in one millisecond
	tests := []struct {
		name  string
		steps []step
	}{
		{"steady clock", []step{
			{n: 10, wantMs: ms(0)},
			{advance: time.Millisecond, n: 10, wantMs: ms(1)},
			{advance: time.Second, n: 1, wantMs: ms(1001)},
		}},
		{"clock steps back seconds", []step{
			{n: 5, wantMs: ms(0)},
			{advance: -5 * time.Second, n: 100, wantMs: ms(0)},
			{advance: 4 * time.Second, n: 100, wantMs: ms(0)},
			{advance: time.Second + time.Millisecond, n: 1, wantMs: ms(1)},
		}},
		{"clock steps back a few ms", []step{
			{advance: 10 * time.Millisecond, n: 3, wantMs: ms(10)},
			{advance: -3 * time.Millisecond, n: 3, wantMs: ms(10)},
			{advance: time.Millisecond, n: 3, wantMs: ms(10)},
			{advance: 3 * time.Millisecond, n: 3, wantMs: ms(11)},
		}},
		{"more than 4096 ids in one millisecond", []step{
			{n: MaxSequence + 1, wantMs: ms(0)},
			{n: 1, wantMs: ms(1)},
			{n: burst, wantMs: ms(4)},
			// The wall clock catches up with the borrowed milliseconds.
			{advance: 2 * time.Millisecond, n: 1, wantMs: ms(4)},
			{advance: 3 * time.Millisecond, n: 1, wantMs: ms(5)},
		}},
		{"burst while the clock steps back", []step{
			{n: burst, wantMs: ms(3)},
			{advance: -2 * time.Second, n: burst, wantMs: ms(6)},
		}},
		{"worker change to a smaller id", []step{
			{worker: w(1000), n: 10, wantMs: ms(0)},
			{worker: w(3), n: 10, wantMs: ms(1)},
			{worker: w(0), n: 1, wantMs: ms(2)},
		}},
		{"worker change to a larger id", []step{
			{worker: w(3), n: 10},
			{worker: w(1000), n: 10},
		}},
		{"worker change after the clock stepped back", []step{
			{worker: w(900), n: 10, wantMs: ms(0)},
			{advance: -time.Second, worker: w(2), n: 10, wantMs: ms(1)},
			{advance: -time.Millisecond, worker: w(1), n: burst, wantMs: ms(5)},
		}},
		{"worker change in a full millisecond", []step{
			{worker: w(7), n: MaxSequence + 1, wantMs: ms(0)},
			{worker: w(6), n: MaxSequence + 1, wantMs: ms(1)},
			{worker: w(5), n: 1, wantMs: ms(2)},
		}},
		{"renewing the same worker keeps the sequence", []step{
			{worker: w(9), n: 10, wantMs: ms(0)},
			{worker: w(9), n: 10, wantMs: ms(0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock(start)
			g := NewGenerator(clk.Now)
			g.SetLease(42, start.Add(time.Hour))
			base := start.UnixMilli() - Epoch
			seen := make(map[ID]struct{})
			var prev ID
			for i, s := range tt.steps {
				clk.Add(s.advance)
				if s.worker != nil {
					g.SetLease(*s.worker, start.Add(time.Hour))
				}
				for range s.n {
					id := mustNext(t, g)
					if _, dup := seen[id]; dup {
						t.Fatalf("step %d: duplicate id %d", i, id)
					}
					seen[id] = struct{}{}
					prev = checkIncreasing(t, prev, id)
				}
				if s.wantMs != nil {
					if got := msOf(prev) - base; got != *s.wantMs {
						t.Errorf("step %d: last id at %d ms, want %d ms", i, got, *s.wantMs)
					}
				}
				if s.worker != nil && prev.Worker() != *s.worker {
					t.Errorf("step %d: worker %d, want %d", i, prev.Worker(), *s.worker)
				}
			}
		})
	}
}

func TestGeneratorConcurrent(t *testing.T) {
	const (
		goroutines = 16
		perG       = 5000
	)
	g := NewGenerator(nil)
	g.SetLease(77, time.Now().Add(time.Hour))

	results := make([][]ID, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Go(func() {
			ids := make([]ID, 0, perG)
			for range perG {
				id, err := g.Next()
				if err != nil {
					t.Error(err)
					return
				}
				ids = append(ids, id)
			}
			results[i] = ids
		})
	}
	// Renew the lease (same worker) concurrently, as the lease keeper does.
	wg.Go(func() {
		for range 100 {
			g.SetLease(77, time.Now().Add(time.Hour))
		}
	})
	wg.Wait()

	seen := make(map[ID]struct{}, goroutines*perG)
	for gi, ids := range results {
		if len(ids) != perG {
			t.Fatalf("goroutine %d issued %d ids, want %d", gi, len(ids), perG)
		}
		for j, id := range ids {
			if _, dup := seen[id]; dup {
				t.Fatalf("duplicate id %d", id)
			}
			seen[id] = struct{}{}
			if j > 0 && id <= ids[j-1] {
				t.Fatalf("goroutine %d: id %d after %d", gi, id, ids[j-1])
			}
			if id.Worker() != 77 {
				t.Fatalf("id %d has worker %d", id, id.Worker())
			}
		}
	}
}

func TestGeneratorRealClock(t *testing.T) {
	g := NewGenerator(nil)
	g.SetLease(1, time.Now().Add(time.Minute))
	before := time.Now().Add(-time.Millisecond)
	id := mustNext(t, g)
	after := time.Now().Add(time.Millisecond)
	if tm := id.Time(); tm.Before(before) || tm.After(after) {
		t.Errorf("id time %v outside [%v, %v]", tm, before, after)
	}
}

func BenchmarkNext(b *testing.B) {
	g := NewGenerator(nil)
	g.SetLease(1, time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNextParallel(b *testing.B) {
	g := NewGenerator(nil)
	g.SetLease(1, time.Now().Add(time.Hour))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Next(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
