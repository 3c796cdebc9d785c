package snowflake

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoLease is returned by Generator.Next when the generator holds no valid
// worker lease: none was ever set, or the last one has expired. A node that
// cannot renew its lease stops issuing ids rather than risk sharing a worker id
// with the node that takes the lease over.
var ErrNoLease = errors.New("snowflake: no valid worker lease")

// ErrClockRange is returned by Generator.Next when the clock lies before Epoch
// or past the 41-bit timestamp range (2084).
var ErrClockRange = errors.New("snowflake: clock outside the id timestamp range")

// Generator issues ids for one worker lease at a time. It is safe for
// concurrent use.
//
// Ids from one Generator are strictly increasing, also across worker changes
// and when the wall clock steps backwards: the generator keeps a logical
// timestamp that never decreases. While the clock is behind it, ids continue
// from the logical timestamp; when the 4096 sequence numbers of a millisecond
// are used up, the logical timestamp moves one millisecond ahead, even past the
// wall clock, instead of waiting.
type Generator struct {
	now func() time.Time

	mu sync.Mutex // guards the fields below
	// worker is the leased worker id, or -1 before the first SetLease.
	worker     int64
	validUntil time.Time
	// last is the logical timestamp (ms since Epoch) of the last id issued;
	// it never decreases.
	last int64
	// seq is the sequence number of the last id issued at last, or -1 when
	// none has been issued at last yet.
	seq int64
}

// NewGenerator returns a Generator without a lease; Next fails with ErrNoLease
// until SetLease is called. now supplies the clock; nil means time.Now.
func NewGenerator(now func() time.Time) *Generator {
	if now == nil {
		now = time.Now
	}
	return &Generator{now: now, worker: -1, seq: -1}
}

// SetLease sets the worker id and the instant its lease expires. Call it when
// the lease is acquired and on every renewal. Next fails with ErrNoLease from
// validUntil on; SetLease(w, time.Time{}) revokes the lease at once.
//
// Derive validUntil from the same clock the generator reads (for time.Now,
// time.Now().Add(ttl)): the expiry check then uses Go's monotonic clock and a
// wall-clock step cannot lengthen the lease.
//
// SetLease panics if worker is outside 0..MaxWorker.
func (g *Generator) SetLease(worker int, validUntil time.Time) {
	if worker < 0 || worker > MaxWorker {
		panic(fmt.Sprintf("snowflake: worker id %d outside 0..%d", worker, MaxWorker))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.worker >= 0 && int64(worker) != g.worker {
		// The worker bits sit above the sequence bits, so a smaller worker id
		// in the same millisecond would produce smaller ids. Start the new
		// worker in a fresh millisecond.
		g.last++
		g.seq = -1
	}
	g.worker = int64(worker)
	g.validUntil = validUntil
}

// Next returns a new id. It fails with ErrNoLease when the generator holds no
// valid lease and with ErrClockRange when the timestamp would not fit an id.
func (g *Generator) Next() (ID, error) {
	now := g.now()
	ms := now.UnixMilli() - Epoch

	g.mu.Lock()
	defer g.mu.Unlock()
	if g.worker < 0 || !now.Before(g.validUntil) {
		return 0, ErrNoLease
	}
	if ms < 0 {
		return 0, fmt.Errorf("%w: %s is before the epoch", ErrClockRange, now.UTC().Format(time.RFC3339Nano))
	}
	last, seq := g.last, g.seq
	if ms > last {
		last, seq = ms, 0
	} else if seq++; seq > MaxSequence {
		last, seq = last+1, 0
	}
	if last > MaxTimestamp {
		return 0, fmt.Errorf("%w: timestamp past 2084", ErrClockRange)
	}
	g.last, g.seq = last, seq
	return ID(last<<timestampShift | g.worker<<workerShift | seq), nil
}
