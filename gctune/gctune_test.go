package gctune

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		base          int
		live, minHeap uint64
		want          int
	}{
		{100, 16 * mib, 256 * mib, 1500}, // collect at 256 MiB, not 32
		{100, 200 * mib, 256 * mib, 100}, // 2x live is already above the minimum
		{100, 128 * mib, 256 * mib, 100}, // exactly 2x
		{100, 300 * mib, 256 * mib, 100}, // above the minimum: GOGC as configured
		{400, 64 * mib, 256 * mib, 400},  // the configured GOGC is a floor
		{100, 1024, 256 * mib, maxPercent},
		{100, 0, 256 * mib, 100}, // nothing measured yet
	} {
		if got := Percent(c.base, c.live, c.minHeap); got != c.want {
			t.Errorf("Percent(%d, %d, %d) = %d, want %d", c.base, c.live, c.minHeap, got, c.want)
		}
	}
}

func TestCapMinHeap(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		minHeap uint64
		limit   int64
		want    uint64
	}{
		{128 * mib, math.MaxInt64, 128 * mib}, // no GOMEMLIMIT
		{128 * mib, 1024 * mib, 128 * mib},
		{128 * mib, 200 * mib, 100 * mib},
		{0, 200 * mib, 0},
	} {
		if got := capMinHeap(c.minHeap, c.limit); got != c.want {
			t.Errorf("capMinHeap(%d, %d) = %d, want %d", c.minHeap, c.limit, got, c.want)
		}
	}
}

// TestRun checks that Run raises GOGC for a small heap while it runs and
// restores the starting value when it stops.
func TestRun(t *testing.T) {
	start := debug.SetGCPercent(100)
	defer debug.SetGCPercent(start)
	runtime.GC() // so the live heap metric has a value

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { Run(ctx, Config{MinHeap: 1 << 30, Interval: 5 * time.Millisecond}) })

	deadline := time.Now().Add(5 * time.Second)
	var got int
	for time.Now().Before(deadline) {
		got = gogc()
		if got > 100 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got <= 100 {
		t.Fatalf("GOGC = %d while Run ran with a 1 GiB minimum over a small heap, want above 100", got)
	}
	cancel()
	wg.Wait()
	if got := gogc(); got != 100 {
		t.Errorf("GOGC = %d after Run returned, want the starting 100", got)
	}
}

func TestRunDisabled(t *testing.T) {
	start := debug.SetGCPercent(100)
	defer debug.SetGCPercent(start)
	done := make(chan struct{})
	go func() {
		Run(context.Background(), Config{}) // MinHeap 0: returns at once
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run with MinHeap 0 did not return")
	}
	if got := gogc(); got != 100 {
		t.Errorf("GOGC = %d, want 100 untouched", got)
	}
}

// gogc reads the current GOGC without changing it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
