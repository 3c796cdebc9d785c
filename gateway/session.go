package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
)

// session is one gateway session: what Identify created and Resume picks up
// again. It outlives its connections: while it has none, dispatches keep
// being stamped and kept for ResumeWindow.
//
// Lock order: registry shard, then session, then connection.
type session struct {
	id      string
	userID  int64
	bot     bool
	intents uint64
	// gate: a bot without MESSAGE_CONTENT, whose guild messages lose their
	// content unless they mention it or are its own.
	gate bool
	// shardID, shardCount: the shard of Identify; guild events go to the
	// shard (guild_id >> 22) % shardCount, DM events to shard 0.
	shardID, shardCount int64
	largeThreshold      int

	mu     sync.Mutex // guards everything below
	seq    int64
	replay replayRing
	conn   *conn // the live connection; nil while disconnected
	// loading: Identify is still loading READY; dispatches wait in pending
	// unstamped, to follow READY and the GUILD_CREATEs.
	loading bool
	pending [][]byte
	// detachedAt is when the last connection went; zero while connected.
	detachedAt time.Time
	// removed: the session left the registry and cannot be resumed.
	removed bool
	// presence is what this session set (Identify, op 3); at is when.
	presence presenceState
}

// presenceState is a session's presence.
type presenceState struct {
	status     string // online, idle, dnd, invisible
	activities json.RawMessage
	since      int64
	afk        bool
	at         time.Time
}

// newSessionID is 32 random hex digits, as Discord's session ids.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// dispatchLocked stamps body (a dispatch head, see dispatchHead) with the
// next sequence number, keeps it for resuming and queues it on the live
// connection. ss.mu held.
func (ss *session) dispatchLocked(body []byte) {
	ss.seq++
	ss.replay.push(body, ss.seq)
	if ss.conn != nil {
		ss.conn.send(outFrame{body: body, seq: ss.seq})
	}
}

// dispatchUnkeptLocked is dispatchLocked for READY and the GUILD_CREATEs
// that follow it: they are stamped and sent but not kept for resuming,
// since they are the bulk of an idle session's memory (a few KiB each) and
// a client needs them only if it drops within the Identify burst; resuming
// from before them gets op 9 and identifies again. ss.mu held.
func (ss *session) dispatchUnkeptLocked(body []byte) {
	ss.seq++
	ss.replay.skip(ss.seq)
	if ss.conn != nil {
		ss.conn.send(outFrame{body: body, seq: ss.seq})
	}
}

// dispatch is dispatchLocked with the lock taken, honouring loading.
func (ss *session) dispatch(body []byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.removed {
		return
	}
	if ss.loading {
		ss.pending = append(ss.pending, body)
		return
	}
	ss.dispatchLocked(body)
}

// detach drops c as the session's connection, if it still is.
func (ss *session) detach(c *conn, now time.Time) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.conn != c {
		return false
	}
	ss.conn = nil
	ss.detachedAt = now
	return true
}

// replayRing keeps a session's last dispatches, by sequence number, for
// resuming. Sequence numbers are contiguous: the ring holds last-n+1..last.
// Guarded by its session's lock.
type replayRing struct {
	max   int
	buf   []outFrame
	start int // index of the oldest entry once the ring is full
	last  int64
}

func (r *replayRing) push(body []byte, seq int64) {
	r.last = seq
	if len(r.buf) < r.max {
		r.buf = append(r.buf, outFrame{body: body, seq: seq})
		return
	}
	r.buf[r.start] = outFrame{body: body, seq: seq}
	r.start = (r.start + 1) % len(r.buf)
}

// skip records dispatch seq as sent but not kept: a resume from before it
// cannot be served.
func (r *replayRing) skip(seq int64) {
	clear(r.buf)
	r.buf, r.start, r.last = r.buf[:0], 0, seq
}

// after returns the dispatches after seq, oldest first; ok is false when
// some of them are no longer kept. seq must not exceed r.last.
func (r *replayRing) after(seq int64) (frames []outFrame, ok bool) {
	n := int64(len(r.buf))
	first := r.last - n + 1
	if seq+1 < first {
		return nil, false
	}
	missed := int(r.last - seq)
	out := make([]outFrame, 0, missed)
	for i := len(r.buf) - missed; i < len(r.buf); i++ {
		out = append(out, r.buf[(r.start+i)%len(r.buf)])
	}
	return out, true
}
