package gateway

import "sync"

// sessionStore holds the sessions this node serves. It is the seam where the
// cluster issue's session grains come in: today sessions live only here, so
// a client resumes only on the node it identified on (elsewhere it gets op
// 9 and identifies again); a session grain will own the replay buffer and
// sequence number behind these same methods and keep a local entry for the
// node that holds the socket, so fan-out stays local.
type sessionStore interface {
	// add registers a new session.
	add(ss *session)
	// get returns the session with id, or nil.
	get(id string) *session
	// remove unregisters ss; it can no longer be resumed.
	remove(ss *session)
	// ofUser calls fn for each session of userID, under a read lock: fn
	// must not block or call back into the store.
	ofUser(userID int64, fn func(*session))
	// each calls fn for every session, shard by shard, under read locks.
	each(fn func(*session))
	// len counts the sessions.
	len() int
}

// registryShards spreads sessions over this many locks.
const registryShards = 64

// registry is the node-local sessionStore: sessions by user (for fan-out)
// and by id (for resume), each sharded by hash with an RWMutex per shard;
// fan-out takes only read locks.
type registry struct {
	byUser [registryShards]userShard
	byID   [registryShards]idShard
}

type userShard struct {
	mu sync.RWMutex // guards m
	m  map[int64][]*session
}

type idShard struct {
	mu sync.RWMutex // guards m
	m  map[string]*session
}

func newRegistry() *registry {
	r := &registry{}
	for i := range r.byUser {
		r.byUser[i].m = make(map[int64][]*session)
		r.byID[i].m = make(map[string]*session)
	}
	return r
}

// userIndex mixes the id: snowflakes made at a low rate end in zero bits.
func userIndex(id int64) int {
	return int((uint64(id) * 0x9E3779B97F4A7C15) >> 58 % registryShards)
}

func idIndex(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return int(h % registryShards)
}

func (r *registry) add(ss *session) {
	us := &r.byUser[userIndex(ss.userID)]
	us.mu.Lock()
	us.m[ss.userID] = append(us.m[ss.userID], ss)
	us.mu.Unlock()
	is := &r.byID[idIndex(ss.id)]
	is.mu.Lock()
	is.m[ss.id] = ss
	is.mu.Unlock()
}

func (r *registry) get(id string) *session {
	is := &r.byID[idIndex(id)]
	is.mu.RLock()
	defer is.mu.RUnlock()
	return is.m[id]
}

func (r *registry) remove(ss *session) {
	is := &r.byID[idIndex(ss.id)]
	is.mu.Lock()
	if is.m[ss.id] == ss {
		delete(is.m, ss.id)
	}
	is.mu.Unlock()
	us := &r.byUser[userIndex(ss.userID)]
	us.mu.Lock()
	list := us.m[ss.userID]
	for i, s := range list {
		if s == ss {
			// Copy on write: readers may hold the old slice.
			next := make([]*session, 0, len(list)-1)
			next = append(next, list[:i]...)
			next = append(next, list[i+1:]...)
			list = next
			break
		}
	}
	if len(list) == 0 {
		delete(us.m, ss.userID)
	} else {
		us.m[ss.userID] = list
	}
	us.mu.Unlock()
}

func (r *registry) ofUser(userID int64, fn func(*session)) {
	us := &r.byUser[userIndex(userID)]
	us.mu.RLock()
	defer us.mu.RUnlock()
	for _, ss := range us.m[userID] {
		fn(ss)
	}
}

func (r *registry) each(fn func(*session)) {
	for i := range r.byID {
		is := &r.byID[i]
		is.mu.RLock()
		for _, ss := range is.m {
			fn(ss)
		}
		is.mu.RUnlock()
	}
}

func (r *registry) len() int {
	n := 0
	for i := range r.byID {
		is := &r.byID[i]
		is.mu.RLock()
		n += len(is.m)
		is.mu.RUnlock()
	}
	return n
}
