package gateway

import (
	"encoding/json"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/snowflake"
)

var _ actors.Fanout = (*Server)(nil)

// Publish delivers ev to every local session of its recipients that the
// event's intent admits: each session stamps its next sequence number,
// keeps the dispatch for resuming and queues it on its connection. The
// event is encoded once; only bots without MESSAGE_CONTENT get a second,
// content-less encoding, shared among them. Publish never blocks on a
// socket: a connection that falls behind is closed instead.
func (s *Server) Publish(ev actors.Event) {
	p := prepared{ev: &ev, intent: eventIntent(ev.Type, ev.GuildID != 0)}
	deliver := func(ss *session) { ss.deliver(&p) }
	for _, uid := range ev.Recipients {
		s.sessions.ofUser(uid, deliver)
	}
}

// prepared is an event on its way to sessions, with its encodings, built
// when a first session needs them. Used by one Publish call only.
type prepared struct {
	ev     *actors.Event
	intent uint64
	head   []byte
	gate   *gating
}

func (p *prepared) body() []byte {
	if p.head == nil {
		p.head = dispatchHead(p.ev.Type, p.ev.Data)
	}
	return p.head
}

// bodyFor is what session ss receives.
func (p *prepared) bodyFor(ss *session) []byte {
	if ss.gate && p.ev.GuildID != 0 && contentGated(p.ev.Type) {
		g := p.gating()
		if g.head != nil && !g.sees(ss.userID) {
			return g.head
		}
	}
	return p.body()
}

// deliver sends p to ss if its intents and shard admit it; a loading
// session keeps it, unfiltered, until it knows them.
func (ss *session) deliver(p *prepared) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.removed {
		return
	}
	if ss.loading {
		h := held{body: p.body(), ev: p.ev.ID, intent: p.intent, guildID: p.ev.GuildID}
		if p.ev.GuildID != 0 && contentGated(p.ev.Type) {
			if g := p.gating(); g.head != nil && !g.sees(ss.userID) {
				h.gated = g.head
			}
		}
		ss.pending = append(ss.pending, h)
		return
	}
	if !ss.admits(p.intent, p.ev.GuildID) {
		return
	}
	ss.dispatchLocked(p.bodyFor(ss), p.ev.ID)
}

// gating is a message event as a bot without MESSAGE_CONTENT sees it.
type gating struct {
	author   int64
	mentions []int64
	head     []byte // nil: the event could not be read; it goes as is
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
	if p.gate != nil {
		return p.gate
	}
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
		return p.gate
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
		return p.gate
	}
	p.gate.head = dispatchHead(p.ev.Type, data)
	return p.gate
}
