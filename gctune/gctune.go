// Package gctune keeps a small Go heap from being collected too often.
//
// Go starts a collection when the heap reaches (1 + GOGC/100) times what the
// last one left live: with GOGC=100 and the 15 MiB an Accord node keeps live
// under load, that is every 15 MiB allocated, about every 200 ms at 5,000
// messages/s. Each collection's mark phase takes one of the machine's cores
// for ~10 ms (a quarter of GOMAXPROCS, rounded up), and on a two-core node
// every request in flight then waits: measured with the REST benchmark, the
// periodic collections were the slowest percent of POST latencies.
//
// Run raises GOGC while the live heap is small, so that the heap may grow to
// at least a minimum size before the next collection, and gives GOGC back as
// the live heap grows: a node with 15 MiB live and a 128 MiB minimum collects
// at ~128 MiB, one with 200 MiB live at 400 MiB as before. The GOGC the
// process started with (the environment's, default 100) stays the floor, and
// GOMEMLIMIT still bounds the heap: the runtime collects early as the limit
// nears, whatever GOGC says, and the minimum is capped at half the limit.
package gctune

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultMinHeap is `accord serve`'s minimum heap (--gc-min-heap).
const DefaultMinHeap = 128 << 20

// Config configures Run.
type Config struct {
	// MinHeap is the heap size, in bytes, below which no collection
	// starts merely because GOGC says so. Zero disables Run.
	MinHeap uint64
	// Interval is how often the live heap is read; default 250ms.
	Interval time.Duration
}

const (
	liveMetric = "/gc/heap/live:bytes"
	// maxPercent caps GOGC: a nearly empty heap would otherwise ask for an
	// absurd value (and the runtime keeps the product in an int64).
	maxPercent = 10_000
)

// Run adjusts GOGC until ctx ends, then restores the starting value. It does
// nothing when cfg.MinHeap is zero or the GC is off (GOGC=off).
func Run(ctx context.Context, cfg Config) {
	if cfg.MinHeap == 0 {
		return
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 250 * time.Millisecond
	}
	base := debug.SetGCPercent(100)
	debug.SetGCPercent(base)
	if base < 0 {
		return
	}
	minHeap := capMinHeap(cfg.MinHeap, debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(base)

	sample := []metrics.Sample{{Name: liveMetric}}
	current := base
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			want := Percent(base, sample[0].Value.Uint64(), minHeap)
			// Small moves are not worth the runtime's recomputation.
			if want != current && math.Abs(float64(want-current)) >= 0.05*float64(current) {
				debug.SetGCPercent(want)
				current = want
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// capMinHeap keeps the minimum heap at or below half the memory limit
// (GOMEMLIMIT; math.MaxInt64 when unset): a heap allowed to grow right up to
// the limit would be collected over and over as it neared it.
func capMinHeap(minHeap uint64, limit int64) uint64 {
	if limit > 0 && minHeap > uint64(limit)/2 {
		return uint64(limit) / 2
	}
	return minHeap
}

// Percent is the GOGC that lets a heap with live bytes live grow to minHeap
// before its next collection, and never less than base.
func Percent(base int, live, minHeap uint64) int {
	if live == 0 || live >= minHeap {
		return base
	}
	p := float64(minHeap-live) / float64(live) * 100
	if p > maxPercent {
		p = maxPercent
	}
	return max(base, int(p))
}
