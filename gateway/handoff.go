package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/accordchat/accord/actors"
)

// A client resumes on any node. When the session lives on another node
// (its id begins with that node's tag), the resuming node:
//
//  1. registers a loading session with the same id, so that from the
//     moment every node confirms the route, the user's events wait here;
//  2. asks the owning node to hand the session over: that node takes it out
//     of its registry (no dispatch is stamped there after this) and returns
//     its state, the dispatches the client missed, and the event ids of
//     every dispatch it kept;
//  3. sends the missed dispatches, then the waiting events the old node had
//     not already stamped (by event id), then RESUMED.
//
// Events of one channel reach both nodes in the same order, so the old
// node's dispatches are a prefix of the waiting ones: the client sees each
// event once, in order, with contiguous sequence numbers. They do not reach
// both at the same time, though: the old node's answer can overtake an
// event the publishing node sent here, so for a while the session also
// drops arriving events the old node had stamped (session.handed).

// handoffState is a session as one node hands it to another.
type handoffState struct {
	UserID         int64           `json:"user_id"`
	Bot            bool            `json:"bot"`
	Intents        uint64          `json:"intents"`
	Gate           bool            `json:"gate"`
	ShardID        int64           `json:"shard_id"`
	ShardCount     int64           `json:"shard_count"`
	LargeThreshold int             `json:"large_threshold"`
	Seq            int64           `json:"seq"`
	Missed         []handoffFrame  `json:"missed"`
	Events         []uint64        `json:"events"`
	Status         string          `json:"status"`
	Activities     json.RawMessage `json:"activities"`
	Since          int64           `json:"since"`
	AFK            bool            `json:"afk"`
}

type handoffFrame struct {
	Seq  int64  `json:"s"`
	Body []byte `json:"b"`
	Ev   uint64 `json:"e,omitempty"`
}

var _ actors.SessionHost = (*Server)(nil)

// TakeOver gives up a local session for a resume on another node from seq:
// it leaves the registry (its connection, if any, is closed) and its state
// is returned.
func (s *Server) TakeOver(sessionID string, userID, seq int64) ([]byte, error) {
	ss := s.sessions.get(sessionID)
	if ss == nil || ss.userID != userID || seq < 0 {
		return nil, actors.ErrUnknownSession
	}
	// Events that reached this node before the request (the node actor
	// published them before it took this one) are stamped first.
	s.fan.sync(userID)
	ss.mu.Lock()
	if ss.removed || ss.loading {
		ss.mu.Unlock()
		return nil, actors.ErrUnknownSession
	}
	if seq > ss.seq {
		ss.mu.Unlock()
		return nil, actors.ErrInvalidSeq
	}
	missed, ok := ss.replay.keptAfter(seq)
	if !ok {
		ss.mu.Unlock()
		s.removeSession(ss)
		return nil, actors.ErrUnknownSession
	}
	st := handoffState{UserID: ss.userID, Bot: ss.bot, Intents: ss.intents, Gate: ss.gate, ShardID: ss.shardID,
		ShardCount: ss.shardCount, LargeThreshold: ss.largeThreshold, Seq: ss.seq, Events: ss.replay.events(),
		Status: ss.presence.status, Activities: ss.presence.activities, Since: ss.presence.since, AFK: ss.presence.afk}
	for _, f := range missed {
		st.Missed = append(st.Missed, handoffFrame{Seq: f.seq, Body: f.body, Ev: f.ev})
	}
	old := ss.conn
	ss.conn = nil
	ss.mu.Unlock()
	s.removeSession(ss)
	if old != nil {
		old.close(ErrUnknown)
	}
	s.presence.changed(userID)
	b, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	s.handedOver.Add(1)
	return b, nil
}

// RemotePresenceChanged takes in a presence change on another node.
func (s *Server) RemotePresenceChanged(userID int64) { s.presence.remote(userID) }

// remoteSession reports whether id names a session another node issued.
func (s *Server) remoteSession(id string) bool {
	tag := s.sessionTag()
	return tag != "" && len(id) == 32 && !strings.HasPrefix(id, tag)
}

// resumeRemote resumes a session another node holds, on this connection.
func (c *conn) resumeRemote(ctx context.Context, sessionID string, userID, seq int64) error {
	s := c.srv
	ss := &session{id: sessionID, userID: userID, loading: true}
	ss.replay.max = s.cfg.ReplayLimit
	s.addSession(ctx, ss)
	raw, err := s.cfg.Cluster.TakeOver(ctx, sessionID, userID, seq)
	var st handoffState
	if err == nil {
		err = json.Unmarshal(raw, &st)
	}
	if err != nil || st.UserID != userID {
		s.removeSession(ss)
		if errors.Is(err, actors.ErrInvalidSeq) {
			return ErrInvalidSeq
		}
		c.send(outFrame{body: payloadInvalidSession})
		return nil
	}
	// The events that reached this node before the hand-over are waiting
	// in pending before the old node's are compared with them.
	s.fan.sync(userID)
	skip := make(map[uint64]struct{}, len(st.Events))
	for _, ev := range st.Events {
		skip[ev] = struct{}{}
	}
	missed := make([]outFrame, 0, len(st.Missed))
	ss.mu.Lock()
	if ss.removed {
		ss.mu.Unlock()
		c.send(outFrame{body: payloadInvalidSession})
		return nil
	}
	ss.bot, ss.intents, ss.gate = st.Bot, st.Intents, st.Gate
	ss.shardID, ss.shardCount, ss.largeThreshold = st.ShardID, max(st.ShardCount, 1), st.LargeThreshold
	ss.presence = presenceState{status: st.Status, activities: st.Activities, since: st.Since, afk: st.AFK,
		at: time.Now()}
	if ss.presence.status == "" {
		ss.presence.status = statusOnline
	}
	if len(ss.presence.activities) == 0 {
		ss.presence.activities = emptyActivities
	}
	for _, f := range st.Missed {
		ss.replay.push(&dispatch{body: f.Body, ev: f.Ev}, f.Seq)
		missed = append(missed, outFrame{body: f.Body, seq: f.Seq})
	}
	ss.seq, ss.replay.last = st.Seq, st.Seq
	ss.conn, ss.detachedAt = c, time.Time{}
	c.sendAll(missed)
	ss.flushLocked(skip)
	if len(skip) > 0 {
		// Copies of these events sent to this node may still arrive.
		ss.handed, ss.handedUntil = skip, time.Now().Add(handedWindow)
	}
	ss.dispatchLocked(dispatchHead("RESUMED", payloadResumed), 0)
	ss.mu.Unlock()
	c.sess = ss
	s.presence.changed(userID)
	return nil
}
