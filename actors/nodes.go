package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/proto/nodepb"
)

// nodeActorName names the actor every node runs for node-to-node messages.
const nodeActorName = "accord-node"

// takeoverTimeout bounds how long a resume waits for the node that issued
// the session to hand it over.
const takeoverTimeout = 2 * time.Second

// directoryAckTimeout bounds how long Attach waits for a peer to confirm
// that it routes a user's events here.
const directoryAckTimeout = 2 * time.Second

// UserPresence is a user's presence on one node: Status is empty while no
// session of the user there has a connection.
type UserPresence struct {
	Status     string
	Activities []byte
	At         time.Time
}

// SessionHost is the gateway as the node actor sees it: it hands sessions
// over to the node a client resumes on, and hears about presence changes
// on other nodes.
type SessionHost interface {
	// TakeOver gives up session sessionID of userID for a resume from
	// seq elsewhere, returning its state in the host's own encoding.
	TakeOver(sessionID string, userID, seq int64) (state []byte, err error)
	// RemotePresenceChanged says the presence of userID on another node
	// changed (or the node went).
	RemotePresenceChanged(userID int64)
}

// Errors of session hand-over; the gateway maps them to op 9 and 4007.
var (
	// ErrUnknownSession: no node holds that session of that user any more,
	// or it cannot be resumed from the client's sequence number.
	ErrUnknownSession = errors.New("actors: unknown or expired gateway session")
	// ErrInvalidSeq: the client claims a sequence number the session never
	// sent.
	ErrInvalidSeq = errors.New("actors: sequence number beyond the session's")
)

// peer is another node as the directory knows it.
type peer struct {
	id  string
	tag string
	pid *actor.PID
	// users are the users with sessions on the peer, with their presence
	// there. Guarded by nodes.mu.
	users map[int64]UserPresence
	// inTopology: a topology listed the peer (guarded by nodes.mu). A peer
	// first heard of by its message is not dropped by a topology that
	// predates it.
	inTopology bool
	// synced: the peer's full state has arrived (guarded by nodes.mu).
	// Until then users is not the whole of what the peer hosts, and events
	// go to the peer with all their recipients (see Publish).
	synced bool
}

// localUser is what this node hosts of one user.
type localUser struct {
	sessions int
	presence UserPresence
}

// nodes is this node's side of node-to-node messaging: the directory of
// which other node hosts sessions of which user, cross-node fan-out, and
// session hand-over. Every node tells every other node about its users
// (a full state when it first sees a peer, then changes), over the
// remoting stream between the two, which keeps them in order.
type nodes struct {
	s    *System
	self string // our member id
	tag  string // our session id prefix

	mu    sync.RWMutex // guards peers, byTag, users, gone, unsynced
	peers map[string]*peer
	// unsynced counts the peers whose full state has not arrived.
	unsynced int
	byTag    map[string]*peer
	// users maps a user to the peers hosting sessions of theirs.
	users map[int64][]*peer
	// gone are member ids that left: messages they sent before going are
	// ignored (protoactor never readmits an id).
	gone map[string]struct{}

	// sendMu orders changes of local with what is sent to peers: a peer
	// gets a full state and then every later change, in order.
	sendMu sync.Mutex
	local  map[int64]*localUser // guarded by sendMu

	host atomic.Pointer[SessionHost]

	eventSeq       atomic.Uint64
	eventsOut      atomic.Int64 // events published by this node's grains
	remoteMessages atomic.Int64 // Event messages sent to other nodes
	remoteEvents   atomic.Int64 // Event messages received from other nodes
}

// NodeTag is the 8 hex digits a node's session ids begin with, derived from
// its member id.
func NodeTag(memberID string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(memberID))
	return fmt.Sprintf("%08x", h.Sum32())
}

func newNodes(s *System) *nodes {
	return &nodes{s: s, peers: map[string]*peer{}, byTag: map[string]*peer{}, users: map[int64][]*peer{},
		gone: map[string]struct{}{}, local: map[int64]*localUser{}}
}

// start spawns the node actor and follows the topology. Called once the
// actor system runs.
func (n *nodes) start() error {
	n.self = n.s.actors.ID
	n.tag = NodeTag(n.self)
	if _, err := n.s.actors.Root.SpawnNamed(actor.PropsFromFunc(n.receive), nodeActorName); err != nil {
		return fmt.Errorf("actors: spawn the node actor: %w", err)
	}
	n.s.actors.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*pcluster.ClusterTopology); ok {
			n.topology(t.Members)
		}
	})
	return nil
}

// receive handles messages from other nodes.
func (n *nodes) receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *nodepb.Event:
		n.remoteEvents.Add(1)
		if f := n.s.cfg.Fanout; f != nil {
			f.Publish(Event{ID: m.Id, Type: m.Type, GuildID: m.GuildId, ChannelID: m.ChannelId, Data: m.Data,
				Recipients: m.Recipients})
		}
	case *nodepb.States:
		changed, added := n.apply(m)
		if ctx.Sender() != nil {
			ctx.Respond(&nodepb.Ack{})
		}
		if added != nil {
			n.sendFull(added)
		}
		if h := n.host.Load(); h != nil {
			for _, uid := range changed {
				(*h).RemotePresenceChanged(uid)
			}
		}
	case *nodepb.Takeover:
		ctx.Respond(n.takeover(m))
	case *nodepb.InfoRequest:
		ctx.Respond(n.info(int(m.Limit)))
	}
}

func (n *nodes) takeover(m *nodepb.Takeover) *nodepb.TakeoverReply {
	h := n.host.Load()
	if h == nil {
		return &nodepb.TakeoverReply{Code: nodepb.TakeoverReply_UNKNOWN}
	}
	state, err := (*h).TakeOver(m.SessionId, m.UserId, m.Seq)
	switch {
	case errors.Is(err, ErrInvalidSeq):
		return &nodepb.TakeoverReply{Code: nodepb.TakeoverReply_INVALID_SEQ}
	case err != nil:
		return &nodepb.TakeoverReply{Code: nodepb.TakeoverReply_UNKNOWN}
	}
	return &nodepb.TakeoverReply{Code: nodepb.TakeoverReply_OK, State: state}
}

// topology reconciles the peers with the cluster's members: a new peer gets
// our full state, a peer that left takes its users with it.
func (n *nodes) topology(members []*pcluster.Member) {
	seen := make(map[string]bool, len(members))
	var added []*peer
	var dropped []int64
	n.mu.Lock()
	for _, m := range members {
		if m.Id == n.self {
			continue
		}
		seen[m.Id] = true
		if p, ok := n.peers[m.Id]; ok {
			p.inTopology = true
			continue
		}
		if _, ok := n.gone[m.Id]; ok {
			continue
		}
		p := n.addPeerLocked(m.Id, net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port))))
		p.inTopology = true
		added = append(added, p)
	}
	for id, p := range n.peers {
		if !seen[id] && p.inTopology {
			dropped = append(dropped, n.dropPeerLocked(p)...)
		}
	}
	n.mu.Unlock()
	for _, p := range added {
		n.s.log.Info("actors: node joined", slog.String("node", p.id), slog.String("address", p.pid.Address))
		n.sendFull(p)
	}
	if h := n.host.Load(); h != nil {
		for _, uid := range dropped {
			(*h).RemotePresenceChanged(uid)
		}
	}
}

// addPeerLocked registers a peer. n.mu held.
func (n *nodes) addPeerLocked(id, address string) *peer {
	p := &peer{id: id, tag: NodeTag(id), pid: actor.NewPID(address, nodeActorName), users: map[int64]UserPresence{}}
	n.peers[id] = p
	n.unsynced++
	n.byTag[p.tag] = p
	return p
}

// dropPeerLocked forgets a peer that left and returns its users. n.mu held.
func (n *nodes) dropPeerLocked(p *peer) []int64 {
	delete(n.peers, p.id)
	if !p.synced {
		n.unsynced--
	}
	if n.byTag[p.tag] == p {
		delete(n.byTag, p.tag)
	}
	n.gone[p.id] = struct{}{}
	users := make([]int64, 0, len(p.users))
	for uid := range p.users {
		users = append(users, uid)
		n.unrouteLocked(uid, p)
	}
	n.s.log.Info("actors: node left", slog.String("node", p.id), slog.Int("users", len(users)))
	return users
}

func (n *nodes) unrouteLocked(uid int64, p *peer) {
	list := n.users[uid]
	for i, q := range list {
		if q == p {
			// Copy on write: Publish may hold the old slice.
			next := make([]*peer, 0, len(list)-1)
			next = append(next, list[:i]...)
			list = append(next, list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.users, uid)
	} else {
		n.users[uid] = list
	}
}

// apply takes a peer's States into the directory and returns the users
// whose presence there changed, and the peer when this message made it
// known (it then needs our full state).
func (n *nodes) apply(m *nodepb.States) (changed []int64, added *peer) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.gone[m.NodeId]; ok || m.NodeId == n.self {
		return nil, nil
	}
	p := n.peers[m.NodeId]
	if p == nil {
		// A peer our topology does not list yet: it saw us first.
		p = n.addPeerLocked(m.NodeId, m.Address)
		added = p
		n.s.log.Info("actors: node joined", slog.String("node", p.id), slog.String("address", m.Address))
	}
	if m.Full {
		for uid := range p.users {
			changed = append(changed, uid)
			n.unrouteLocked(uid, p)
		}
		p.users = map[int64]UserPresence{}
		if !p.synced {
			p.synced = true
			n.unsynced--
		}
	}
	for _, u := range m.Users {
		_, had := p.users[u.UserId]
		if !u.Present {
			if had {
				delete(p.users, u.UserId)
				n.unrouteLocked(u.UserId, p)
				changed = append(changed, u.UserId)
			}
			continue
		}
		p.users[u.UserId] = UserPresence{Status: u.Status, Activities: u.Activities, At: time.Unix(0, u.At)}
		if !had {
			n.users[u.UserId] = append(append(make([]*peer, 0, len(n.users[u.UserId])+1), n.users[u.UserId]...), p)
		}
		changed = append(changed, u.UserId)
	}
	return changed, added
}

// sendFull sends p our whole local state.
func (n *nodes) sendFull(p *peer) {
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	msg := &nodepb.States{NodeId: n.self, Address: n.s.actors.Address(), Full: true}
	for uid, lu := range n.local {
		msg.Users = append(msg.Users, userState(uid, lu))
	}
	n.s.actors.Root.Send(p.pid, msg)
}

func userState(uid int64, lu *localUser) *nodepb.UserState {
	if lu == nil || lu.sessions == 0 {
		return &nodepb.UserState{UserId: uid}
	}
	var at int64
	if !lu.presence.At.IsZero() {
		at = lu.presence.At.UnixNano()
	}
	return &nodepb.UserState{UserId: uid, Present: true, Status: lu.presence.Status,
		Activities: lu.presence.Activities, At: at}
}

// broadcast sends a change of uid to every peer; with wait, it returns once
// every peer applied it (or directoryAckTimeout passed). sendMu held.
func (n *nodes) broadcastLocked(uid int64, wait bool) []*actor.Future {
	msg := &nodepb.States{NodeId: n.self, Address: n.s.actors.Address(),
		Users: []*nodepb.UserState{userState(uid, n.local[uid])}}
	n.mu.RLock()
	peers := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		peers = append(peers, p)
	}
	n.mu.RUnlock()
	var futures []*actor.Future
	for _, p := range peers {
		if wait {
			futures = append(futures, n.s.actors.Root.RequestFuture(p.pid, msg, directoryAckTimeout))
		} else {
			n.s.actors.Root.Send(p.pid, msg)
		}
	}
	return futures
}

// Attach records a new local session of userID and returns once every other
// node routes the user's events here too (or a peer did not answer in
// time, which is logged): events emitted after Attach returns reach this
// node.
func (s *System) Attach(ctx context.Context, userID int64, p UserPresence) {
	n := s.nodes
	n.sendMu.Lock()
	lu := n.local[userID]
	if lu == nil {
		lu = &localUser{}
		n.local[userID] = lu
	}
	lu.sessions++
	if lu.sessions == 1 {
		lu.presence = p
	}
	futures := n.broadcastLocked(userID, true)
	n.sendMu.Unlock()
	for _, f := range futures {
		if _, err := f.Result(); err != nil && ctx.Err() == nil {
			s.log.Warn("actors: a node did not confirm a session's route", slog.Int64("user", userID),
				slog.String("node", f.PID().Address), slog.Any("error", err))
		}
	}
}

// Detach records that a local session of userID ended.
func (s *System) Detach(userID int64) {
	n := s.nodes
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	lu := n.local[userID]
	if lu == nil {
		return
	}
	if lu.sessions--; lu.sessions > 0 {
		return
	}
	delete(n.local, userID)
	n.broadcastLocked(userID, false)
}

// SetPresence records userID's presence on this node (Status "" when none
// of their sessions here has a connection) and tells the other nodes.
func (s *System) SetPresence(userID int64, p UserPresence) {
	n := s.nodes
	n.sendMu.Lock()
	defer n.sendMu.Unlock()
	lu := n.local[userID]
	if lu == nil {
		return
	}
	if lu.presence.Status == p.Status && lu.presence.At.Equal(p.At) && string(lu.presence.Activities) == string(p.Activities) {
		return
	}
	lu.presence = p
	n.broadcastLocked(userID, false)
}

// RemotePresences returns userID's presences on the other nodes that host
// sessions of theirs.
func (s *System) RemotePresences(userID int64) []UserPresence {
	n := s.nodes
	n.mu.RLock()
	defer n.mu.RUnlock()
	list := n.users[userID]
	if len(list) == 0 {
		return nil
	}
	out := make([]UserPresence, 0, len(list))
	for _, p := range list {
		out = append(out, p.users[userID])
	}
	return out
}

// Presence is userID's presence over the cluster: of the nodes where the
// user has a connected session, the one set last. ok is false when the
// user shows offline (no connected session, or invisible).
func (s *System) Presence(userID int64) (p UserPresence, ok bool) {
	n := s.nodes
	n.sendMu.Lock()
	if lu := n.local[userID]; lu != nil && lu.sessions > 0 && lu.presence.Status != "" {
		p = lu.presence
	}
	n.sendMu.Unlock()
	for _, r := range s.RemotePresences(userID) {
		if r.Status != "" && (p.Status == "" || r.At.After(p.At)) {
			p = r
		}
	}
	return p, p.Status != "" && p.Status != "invisible" && p.Status != "offline"
}

// PresenceJSON renders a presence update object; guildID 0 leaves guild_id
// out (GUILD_CREATE's presences). activities must be a JSON array.
func PresenceJSON(userID, guildID int64, status string, activities []byte) []byte {
	if len(activities) == 0 {
		activities = []byte("[]")
	}
	b := append([]byte(`{"user":{"id":"`), strconv.FormatInt(userID, 10)...)
	b = append(b, `"}`...)
	if guildID != 0 {
		b = append(b, `,"guild_id":"`...)
		b = strconv.AppendInt(b, guildID, 10)
		b = append(b, '"')
	}
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","activities":`...)
	b = append(b, activities...)
	b = append(b, `,"client_status":{`...)
	if status != "offline" {
		b = append(b, `"web":"`...)
		b = append(b, status...)
		b = append(b, '"')
	}
	return append(b, `}}`...)
}

// SetSessionHost names the gateway that hands sessions over and hears of
// remote presence changes.
func (s *System) SetSessionHost(h SessionHost) { s.nodes.host.Store(&h) }

// SessionTag is what this node's gateway session ids begin with.
func (s *System) SessionTag() string { return s.nodes.tag }

// TakeOver asks the node that issued sessionID (its first 8 characters are
// that node's tag) to hand the session over for a resume here.
func (s *System) TakeOver(ctx context.Context, sessionID string, userID, seq int64) ([]byte, error) {
	if len(sessionID) < 8 {
		return nil, ErrUnknownSession
	}
	n := s.nodes
	n.mu.RLock()
	p := n.byTag[sessionID[:8]]
	n.mu.RUnlock()
	if p == nil {
		return nil, ErrUnknownSession
	}
	// A live node answers at once; a dead one not yet declared dead should
	// cost the client little before it identifies again.
	timeout := min(s.cfg.RequestTimeout, takeoverTimeout)
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	res, err := s.actors.Root.RequestFuture(p.pid, &nodepb.Takeover{SessionId: sessionID, UserId: userID, Seq: seq},
		timeout).Result()
	if err != nil {
		s.log.Warn("actors: session hand-over failed", slog.String("node", p.id), slog.Any("error", err))
		return nil, ErrUnknownSession
	}
	reply, ok := res.(*nodepb.TakeoverReply)
	if !ok {
		return nil, ErrUnknownSession
	}
	switch reply.Code {
	case nodepb.TakeoverReply_OK:
		return reply.State, nil
	case nodepb.TakeoverReply_INVALID_SEQ:
		return nil, ErrInvalidSeq
	}
	return nil, ErrUnknownSession
}

// Publish delivers an event emitted by a grain of this node: to the local
// fan-out, and once to each other node hosting sessions of its recipients,
// with just the recipients there.
func (s *System) Publish(ev Event) {
	n := s.nodes
	if ev.ID == 0 {
		ev.ID = uint64(n.tagNum())<<32 | n.eventSeq.Add(1)&0xffffffff
	}
	n.eventsOut.Add(1)
	if f := s.cfg.Fanout; f != nil {
		f.Publish(ev)
	}
	n.mu.RLock()
	groups := n.groupsLocked(ev.Recipients)
	n.mu.RUnlock()
	for _, g := range groups {
		n.remoteMessages.Add(1)
		s.actors.Root.Send(g.p.pid, &nodepb.Event{Id: ev.ID, Type: ev.Type, GuildId: ev.GuildID,
			ChannelId: ev.ChannelID, Data: ev.Data, Recipients: g.users})
	}
}

type remoteGroup struct {
	p     *peer
	users []int64
}

// groupsLocked sorts recipients by the peers hosting their sessions: one
// group per peer, with just the recipients there. n.mu held (shared).
func (n *nodes) groupsLocked(recipients []int64) []remoteGroup {
	var groups []remoteGroup
	group := func(p *peer) *remoteGroup {
		for i := range groups {
			if groups[i].p == p {
				return &groups[i]
			}
		}
		groups = append(groups, remoteGroup{p: p})
		return &groups[len(groups)-1]
	}
	for _, uid := range recipients {
		for _, p := range n.users[uid] {
			g := group(p)
			g.users = append(g.users, uid)
		}
	}
	if n.unsynced > 0 {
		// A peer whose full state has not arrived (it joined a moment
		// ago, or we did) may host any of the recipients: it gets them
		// all and delivers to those it hosts. Without this, the events
		// of grains that move to a joining node in its first moments
		// miss the sessions on the other nodes.
		for _, p := range n.peers {
			if !p.synced {
				group(p).users = recipients
			}
		}
	}
	return groups
}

func (n *nodes) tagNum() uint32 {
	v, _ := strconv.ParseUint(n.tag, 16, 32)
	return uint32(v)
}

// FanoutStats are counters of cross-node fan-out.
type FanoutStats struct {
	// Events is how many events this node's grains published.
	Events int64
	// RemoteMessages is how many Event messages went to other nodes: at
	// most one per event and other node hosting recipients.
	RemoteMessages int64
	// RemoteEvents is how many Event messages came from other nodes.
	RemoteEvents int64
}

// FanoutStats reads the cross-node fan-out counters.
func (s *System) FanoutStats() FanoutStats {
	n := s.nodes
	return FanoutStats{Events: n.eventsOut.Load(), RemoteMessages: n.remoteMessages.Load(),
		RemoteEvents: n.remoteEvents.Load()}
}

// HasPeers reports whether this node knows other nodes.
func (s *System) HasPeers() bool {
	n := s.nodes
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.peers) > 0
}

// Peer is another node as this one knows it.
type Peer struct {
	ID, Address string
	// Users counts the users with gateway sessions there.
	Users int
}

// Peers lists the other nodes this node exchanges messages with.
func (s *System) Peers() []Peer {
	n := s.nodes
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]Peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, Peer{ID: p.id, Address: p.pid.Address, Users: len(p.users)})
	}
	return out
}
