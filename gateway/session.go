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
	// loading: Identify is still loading READY, or a resume is taking the
	// session over from another node; dispatches wait in pending,
	// unstamped and unfiltered, to follow READY and the GUILD_CREATEs (or
	// the handed-over replay).
	loading bool
	pending []held
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

// newSessionID is 32 hex digits, as Discord's session ids: the node's tag
// (8 digits; see actors.NodeTag), which tells other nodes where the session
// lives, then random ones. Without a tag, all 32 are random.
func newSessionID(tag string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	if len(tag) == 8 {
		id = tag + id[8:]
	}
	return id
}

// held is a dispatch waiting in a loading session, with what it takes to
// filter it once the session's intents and shard are known.
type held struct {
	body  []byte
	gated []byte // body without content, for bots without MESSAGE_CONTENT; nil: same as body
	ev    uint64 // the event's id; 0 for the session's own dispatches
	// direct: addressed to this session (a member chunk), not filtered.
	direct  bool
	intent  uint64
	guildID int64
}

// dispatchLocked stamps body (a dispatch head, see dispatchHead) with the
// next sequence number, keeps it for resuming and queues it on the live
// connection. ev is the event's id (0 for the session's own). ss.mu held.
func (ss *session) dispatchLocked(body []byte, ev uint64) {
	ss.seq++
	ss.replay.push(body, ss.seq, ev)
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

// dispatch sends a dispatch addressed to this session alone, honouring
// loading.
func (ss *session) dispatch(body []byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.removed {
		return
	}
	if ss.loading {
		ss.pending = append(ss.pending, held{body: body, direct: true})
		return
	}
	ss.dispatchLocked(body, 0)
}

// admits reports whether an event of intent in guildID passes the
// session's intents and shard. ss.mu held (a hand-over sets them).
func (ss *session) admits(intent uint64, guildID int64) bool {
	if intent != 0 && ss.intents&intent == 0 {
		return false
	}
	if ss.shardCount > 1 {
		shard := int64(0)
		if guildID != 0 {
			shard = (guildID >> 22) % ss.shardCount
		}
		if shard != ss.shardID {
			return false
		}
	}
	return true
}

// flushLocked stamps and sends what waited while the session loaded,
// except events in skip (those a handed-over replay already has), and ends
// loading. ss.mu held.
func (ss *session) flushLocked(skip map[uint64]struct{}) {
	for _, h := range ss.pending {
		if h.ev != 0 {
			if _, dup := skip[h.ev]; dup {
				continue
			}
		}
		if !h.direct && !ss.admits(h.intent, h.guildID) {
			continue
		}
		body := h.body
		if ss.gate && h.gated != nil {
			body = h.gated
		}
		ss.dispatchLocked(body, h.ev)
	}
	ss.pending, ss.loading = nil, false
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
	buf   []replayed
	start int // index of the oldest entry once the ring is full
	last  int64
}

// replayed is a kept dispatch and the id of its event (0: the session's
// own dispatch).
type replayed struct {
	outFrame
	ev uint64
}

func (r *replayRing) push(body []byte, seq int64, ev uint64) {
	r.last = seq
	e := replayed{outFrame: outFrame{body: body, seq: seq}, ev: ev}
	if len(r.buf) < r.max {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % len(r.buf)
}

// events returns the ids of the kept dispatches' events.
func (r *replayRing) events() []uint64 {
	out := make([]uint64, 0, len(r.buf))
	for _, e := range r.buf {
		if e.ev != 0 {
			out = append(out, e.ev)
		}
	}
	return out
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
	kept, ok := r.keptAfter(seq)
	if !ok {
		return nil, false
	}
	frames = make([]outFrame, len(kept))
	for i, e := range kept {
		frames[i] = e.outFrame
	}
	return frames, true
}

// keptAfter is after with the events' ids.
func (r *replayRing) keptAfter(seq int64) (kept []replayed, ok bool) {
	n := int64(len(r.buf))
	first := r.last - n + 1
	if seq+1 < first {
		return nil, false
	}
	missed := int(r.last - seq)
	out := make([]replayed, 0, missed)
	for i := len(r.buf) - missed; i < len(r.buf); i++ {
		out = append(out, r.buf[(r.start+i)%len(r.buf)])
	}
	return out, true
}
