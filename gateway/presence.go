package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/snowflake"
)

// Presence statuses.
const (
	statusOnline    = "online"
	statusIdle      = "idle"
	statusDND       = "dnd"
	statusInvisible = "invisible"
	statusOffline   = "offline"
)

// validStatus reports whether a client may set status.
func validStatus(status string) bool {
	switch status {
	case statusOnline, statusIdle, statusDND, statusInvisible, statusOffline:
		return true
	}
	return false
}

// shown is a user's presence as other users see it.
type shown struct {
	status     string
	activities json.RawMessage // a JSON array
}

func (a shown) equal(b shown) bool {
	return a.status == b.status && bytes.Equal(a.activities, b.activities)
}

var emptyActivities = json.RawMessage(`[]`)

// presences is the node's view of who is online: a user is online (or idle,
// dnd) while one of their sessions has a connection here, with the status of
// the session that set one last; invisible shows as offline. A change is
// announced with PRESENCE_UPDATE to the members of each of the user's guilds
// by one worker goroutine, in order, coalescing bursts.
//
// Cross-node presence (a user connected to two nodes) is the user grain's
// job in the cluster issue; this map is node-local.
type presences struct {
	s *Server

	mu         sync.Mutex          // guards the maps and order
	online     map[int64]shown     // users not shown offline
	dueOffline map[int64]time.Time // users without a connection, offline once their grace passes
	dirty      map[int64]struct{}  // users whose presence is to be announced
	order      []int64             // dirty users, first changed first
	announced  map[int64]shown     // the last presence announced per user
	wake       chan struct{}       // capacity 1: the worker has work
}

func newPresences(s *Server) *presences {
	return &presences{s: s, online: map[int64]shown{}, dueOffline: map[int64]time.Time{},
		dirty: map[int64]struct{}{}, announced: map[int64]shown{}, wake: make(chan struct{}, 1)}
}

// local computes userID's presence from their sessions here: the status
// of the connected session that set one last; connected is false when none
// has a connection.
func (p *presences) local(userID int64) (sh shown, connected bool, at time.Time) {
	p.s.sessions.ofUser(userID, func(ss *session) {
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.conn == nil || ss.removed {
			return
		}
		if !connected || ss.presence.at.After(at) {
			connected, at = true, ss.presence.at
			sh = shown{status: ss.presence.status, activities: ss.presence.activities}
		}
	})
	return sh, connected, at
}

// current computes userID's presence over the cluster: the local one,
// which it reports to the other nodes, merged with theirs (the last set
// wins); connected is false when no node has a connection of the user.
func (p *presences) current(userID int64) (sh shown, connected bool) {
	sh, connected, at := p.local(userID)
	if cl := p.s.cfg.Cluster; cl != nil {
		mine := actors.UserPresence{At: at}
		if connected {
			mine.Status, mine.Activities = sh.status, sh.activities
		}
		cl.SetPresence(userID, mine)
		for _, r := range cl.RemotePresences(userID) {
			if r.Status != "" && (!connected || r.At.After(at)) {
				connected, at = true, r.At
				sh = shown{status: r.Status, activities: r.Activities}
			}
		}
	}
	if sh.status == "" || sh.status == statusInvisible {
		sh.status = statusOffline
	}
	if sh.activities == nil || sh.status == statusOffline {
		sh.activities = emptyActivities
	}
	return sh, connected
}

// remote takes in a change of userID's presence on another node. That
// node announces it; here it only updates what GUILD_CREATEs list, unless
// a change of ours is about to be announced anyway.
func (p *presences) remote(userID int64) {
	sh, connected := p.current(userID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, queued := p.dirty[userID]; queued {
		return
	}
	if _, waiting := p.dueOffline[userID]; waiting {
		return
	}
	if !connected || sh.status == statusOffline {
		delete(p.online, userID)
		delete(p.announced, userID)
		return
	}
	p.online[userID] = sh
	p.announced[userID] = sh
}

// changed re-evaluates userID's presence after a session connected,
// disconnected or set a presence.
func (p *presences) changed(userID int64) {
	p.update(userID, time.Now(), false)
}

func (p *presences) update(userID int64, now time.Time, graceOver bool) {
	sh, connected := p.current(userID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if !connected {
		if _, on := p.online[userID]; on && !graceOver && p.s.cfg.PresenceGrace > 0 {
			if _, waiting := p.dueOffline[userID]; !waiting {
				p.dueOffline[userID] = now.Add(p.s.cfg.PresenceGrace)
			}
			return
		}
	}
	delete(p.dueOffline, userID)
	old, on := p.online[userID]
	if !on {
		old = shown{status: statusOffline, activities: emptyActivities}
	}
	if old.equal(sh) {
		return
	}
	if sh.status == statusOffline {
		delete(p.online, userID)
	} else {
		p.online[userID] = sh
	}
	if _, queued := p.dirty[userID]; !queued {
		p.dirty[userID] = struct{}{}
		p.order = append(p.order, userID)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// due applies the offline presences whose grace has passed.
func (p *presences) due(now time.Time) {
	p.mu.Lock()
	var users []int64
	for id, at := range p.dueOffline {
		if !now.Before(at) {
			users = append(users, id)
		}
	}
	p.mu.Unlock()
	for _, id := range users {
		p.update(id, now, true)
	}
}

// run announces presence changes until the server stops.
func (p *presences) run() {
	for {
		select {
		case <-p.s.ctx.Done():
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			if len(p.order) == 0 {
				p.mu.Unlock()
				break
			}
			id := p.order[0]
			p.order = p.order[1:]
			delete(p.dirty, id)
			sh, on := p.online[id]
			if !on {
				sh = shown{status: statusOffline, activities: emptyActivities}
			}
			last, announced := p.announced[id]
			if !announced {
				last = shown{status: statusOffline, activities: emptyActivities}
			}
			if sh.status == statusOffline {
				delete(p.announced, id)
			} else {
				p.announced[id] = sh
			}
			p.mu.Unlock()
			if !last.equal(sh) {
				p.announce(id, sh)
			}
		}
	}
}

// announce sends PRESENCE_UPDATE for userID to the members of each of their
// guilds.
func (p *presences) announce(userID int64, sh shown) {
	ctx, cancel := context.WithTimeout(p.s.ctx, p.s.cfg.RequestTimeout)
	defer cancel()
	guilds, err := p.s.cfg.Store.GuildIDsOfUser(ctx, userID)
	if err != nil {
		p.s.log.Warn("presence: listing guilds failed", slog.Int64("user", userID), slog.Any("error", err))
		return
	}
	for _, gid := range guilds {
		members, err := p.s.memberIDs(ctx, gid, userID)
		if err != nil {
			p.s.log.Warn("presence: listing members failed", slog.Int64("guild", gid), slog.Any("error", err))
			continue
		}
		p.s.publish(actors.Event{Type: "PRESENCE_UPDATE", GuildID: gid, Data: presenceJSON(userID, gid, sh),
			Recipients: members})
	}
}

// presenceJSON is a presence update object; guildID 0 leaves guild_id out
// (GUILD_CREATE's presences).
func presenceJSON(userID, guildID int64, sh shown) []byte {
	return actors.PresenceJSON(userID, guildID, sh.status, sh.activities)
}

// presencesOf is the JSON array of the presences of those of ids who are
// online.
func (p *presences) presencesOf(ids []snowflake.ID, guildID int64) []byte {
	b := []byte{'['}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range ids {
		sh, on := p.online[int64(id)]
		if !on {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		b = append(b, presenceJSON(int64(id), guildID, sh)...)
	}
	return append(b, ']')
}

// memberIDs asks guild gid's grain for its members' ids, as member actor.
func (s *Server) memberIDs(ctx context.Context, gid, actor int64) ([]int64, error) {
	res, err := s.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: gid, Op: "gateway.member_ids", ActorID: actor})
	if err != nil {
		return nil, err
	}
	if res.Status != http.StatusOK {
		return nil, &guildError{status: res.Status, body: res.Body}
	}
	var r actors.MemberIDsReply
	if err := json.Unmarshal(res.Body, &r); err != nil {
		return nil, err
	}
	out := make([]int64, len(r.MemberIDs))
	for i, id := range r.MemberIDs {
		out[i] = int64(id)
	}
	return out, nil
}

// guildError is a guild grain's refusal.
type guildError struct {
	status int
	body   []byte
}

func (e *guildError) Error() string {
	return "gateway: guild grain answered " + strconv.Itoa(e.status) + ": " + string(e.body)
}
