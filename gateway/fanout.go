package gateway

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/snowflake"
)

var _ actors.Fanout = (*Server)(nil)

// Publish delivers ev to every local session of its recipients that the
// event's intent admits: each session stamps its next sequence number,
// keeps the dispatch for resuming and queues it on its connection. The
// event is encoded once; only bots without MESSAGE_CONTENT get a second,
// content-less encoding, shared among them. Publish hands the event to
// the fan-out workers (fanworker.go) and returns: it never waits on a
// socket (a connection that falls behind is closed instead), only, when
// the workers are that far behind, for room in their queues.
func (s *Server) Publish(ev actors.Event) {
	if len(ev.Recipients) == 0 {
		return
	}
	p := &prepared{ev: &ev, intent: eventIntent(ev.Type, ev.GuildID != 0)}
	// Its own allocation: replay buffers keep it, not the event.
	p.d = &dispatch{body: dispatchHead(ev.Type, ev.Data), ev: ev.ID}
	s.fan.publish(p)
}

// prepared is an event on its way to sessions, with its encodings: the
// dispatch head, built by Publish, and the content-less one, built when a
// first session needs it. Shared by the fan-out workers.
type prepared struct {
	ev     *actors.Event
	intent uint64
	d      *dispatch
	once   sync.Once
	gate   *gating
}

// dispatchFor is what session ss receives.
func (p *prepared) dispatchFor(ss *session) *dispatch {
	if ss.gate && p.ev.GuildID != 0 && contentGated(p.ev.Type) {
		g := p.gating()
		if g.d != nil && !g.sees(ss.userID) {
			return g.d
		}
	}
	return p.d
}

// deliver sends ss the events of run that its intents and shard admit; a
// loading session keeps them, unfiltered, until it knows them. The frames
// are queued on the connection, in one go, for w to write at the end of
// its batch.
func (ss *session) deliver(run []*prepared, w *fanWorker) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.removed {
		return
	}
	if ss.loading {
		for _, p := range run {
			h := held{d: p.d, intent: p.intent, guildID: p.ev.GuildID}
			if p.ev.GuildID != 0 && contentGated(p.ev.Type) {
				if g := p.gating(); g.d != nil && !g.sees(ss.userID) {
					h.gated = g.d
				}
			}
			ss.pending = append(ss.pending, h)
		}
		return
	}
	frames := w.frames[:0]
	var now time.Time
	if ss.handed != nil {
		now = time.Now()
	}
	for _, p := range run {
		if !ss.admits(p.intent, p.ev.GuildID) || ss.alreadyHanded(p.ev.ID, now) {
			continue
		}
		ss.seq++
		d := p.dispatchFor(ss)
		ss.replay.push(d, ss.seq)
		frames = append(frames, outFrame{body: d.body, seq: ss.seq})
	}
	if ss.conn != nil && len(frames) > 0 {
		ss.conn.sendBatched(frames, w)
	}
	clear(frames)
	w.frames = frames[:0]
}

// gating is a message event as a bot without MESSAGE_CONTENT sees it.
type gating struct {
	author   int64
	mentions []int64
	d        *dispatch // nil: the event could not be read; it goes as is
}

// sees reports whether bot userID gets the content anyway: its own
// messages and those mentioning it.
func (g *gating) sees(userID int64) bool {
	if g.author == userID {
		return true
	}
	for _, id := range g.mentions {
		if id == userID {
			return true
		}
	}
	return false
}

func (p *prepared) gating() *gating {
	p.once.Do(p.buildGating)
	return p.gate
}

func (p *prepared) buildGating() {
	p.gate = &gating{}
	var msg struct {
		Author *struct {
			ID snowflake.ID `json:"id"`
		} `json:"author"`
		Mentions []struct {
			ID snowflake.ID `json:"id"`
		} `json:"mentions"`
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(p.ev.Data, &msg) != nil || json.Unmarshal(p.ev.Data, &fields) != nil {
		return
	}
	if msg.Author != nil {
		p.gate.author = int64(msg.Author.ID)
	}
	for _, m := range msg.Mentions {
		p.gate.mentions = append(p.gate.mentions, int64(m.ID))
	}
	empty := json.RawMessage(`[]`)
	for _, k := range []string{"embeds", "attachments", "components"} {
		if _, ok := fields[k]; ok {
			fields[k] = empty
		}
	}
	if _, ok := fields["content"]; ok {
		fields["content"] = json.RawMessage(`""`)
	}
	delete(fields, "poll")
	data, err := json.Marshal(fields)
	if err != nil {
		return
	}
	p.gate.d = &dispatch{body: dispatchHead(p.ev.Type, data), ev: p.ev.ID}
}
