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
	// handed are the events the node this session was handed over from
	// had already stamped, until handedUntil: their copies addressed to
	// this node may still be on their way from the publishing node when
	// the hand-over completes, and must not be stamped a second time.
	handed      map[uint64]struct{}
	handedUntil time.Time
}

// handedWindow is how long a handed-over session drops late copies of
// the events its previous node had stamped: far longer than a message
// between two nodes takes.
const handedWindow = 30 * time.Second

// alreadyHanded reports whether event ev reached this session through the
// node it was handed over from. ss.mu held.
func (ss *session) alreadyHanded(ev uint64, now time.Time) bool {
	if ss.handed == nil || ev == 0 {
		return false
	}
	if now.After(ss.handedUntil) {
		ss.handed = nil
		return false
	}
	_, ok := ss.handed[ev]
	return ok
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
	d     *dispatch
	gated *dispatch // d without content, for bots without MESSAGE_CONTENT; nil: same as d
	// direct: addressed to this session (a member chunk), not filtered.
	direct  bool
	intent  uint64
	guildID int64
}

// dispatch is a dispatch's head (see dispatchHead) and the id of its event
// (0 for a session's own dispatches): what a session keeps for resuming,
// one pointer per sequence number, shared by every session that got it.
type dispatch struct {
	body []byte
	ev   uint64
}

// dispatchLocked stamps body (a dispatch head, see dispatchHead) with the
// next sequence number, keeps it for resuming and queues it on the live
// connection. ev is the event's id (0 for the session's own). ss.mu held.
func (ss *session) dispatchLocked(body []byte, ev uint64) {
	ss.sendLocked(&dispatch{body: body, ev: ev})
}

// sendLocked is dispatchLocked for a shared dispatch. ss.mu held.
func (ss *session) sendLocked(d *dispatch) {
	ss.seq++
	ss.replay.push(d, ss.seq)
	if ss.conn != nil {
		ss.conn.send(outFrame{body: d.body, seq: ss.seq})
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
		ss.pending = append(ss.pending, held{d: &dispatch{body: body}, direct: true})
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
		if h.d.ev != 0 {
			if _, dup := skip[h.d.ev]; dup {
				continue
			}
		}
		if !h.direct && !ss.admits(h.intent, h.guildID) {
			continue
		}
		d := h.d
		if ss.gate && h.gated != nil {
			d = h.gated
		}
		ss.sendLocked(d)
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
// resuming. Sequence numbers are contiguous: the ring holds last-n+1..last,
// one shared pointer each (the fan-out writes one per delivery, so it is
// kept small). Guarded by its session's lock.
type replayRing struct {
	max   int
	buf   []*dispatch
	start int // index of the oldest entry once the ring is full
	last  int64
}

// replayed is a kept dispatch as a frame, and the id of its event (0: the
// session's own dispatch).
type replayed struct {
	outFrame
	ev uint64
}

// push keeps d as dispatch seq, which follows r.last.
func (r *replayRing) push(d *dispatch, seq int64) {
	r.last = seq
	if len(r.buf) < r.max {
		if len(r.buf) == cap(r.buf) {
			// Fewer, larger steps than append's: a busy session's ring
			// fills within seconds, and each step copies pointers the
			// garbage collector must look at.
			buf := make([]*dispatch, len(r.buf), min(max(16, 4*cap(r.buf)), r.max))
			copy(buf, r.buf)
			r.buf = buf
		}
		r.buf = append(r.buf, d)
		return
	}
	r.buf[r.start] = d
	r.start++
	if r.start == len(r.buf) {
		r.start = 0
	}
}

// events returns the ids of the kept dispatches' events.
func (r *replayRing) events() []uint64 {
	out := make([]uint64, 0, len(r.buf))
	for _, d := range r.buf {
		if d.ev != 0 {
			out = append(out, d.ev)
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
		d := r.buf[(r.start+i)%len(r.buf)]
		out = append(out, replayed{outFrame: outFrame{body: d.body, seq: first + int64(i)}, ev: d.ev})
	}
	return out, true
}
