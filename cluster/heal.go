package cluster

import (
	"bytes"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// After a partition heals, or after a node stalled long enough to be
// declared dead and then refuted it, memberlist merges the members again,
// but protoactor blocks for good every member that left its topology: the
// two sides would go on placing the same grains, each on its own side, for
// ever (owner epochs keep their writes safe, but every write would fence
// the other side's activation). One side must come back with a new
// identity. The rule, which both sides compute alike:
//
//   - a node remembers which members it saw fail (declared dead, not left
//     gracefully) for failedMemory;
//   - when such members are alive again, the node's side is the members it
//     sees minus those; the side with fewer members restarts, and on a tie
//     the side whose smallest member id is larger;
//   - the staying side also tells the returning members to restart (a
//     member that stalled saw nobody fail and cannot decide alone).
//
// A node that must restart closes Evicted; `accord serve` exits non-zero so
// that its supervisor (systemd, Kubernetes) starts it afresh.

// failedMemory is how long a failed member is remembered.
const failedMemory = 10 * time.Minute

// evictMsg is the memberlist user message telling a member to restart.
var evictMsg = []byte("accord:evict\n")

// failures is what memberlist's callbacks record for the topology
// goroutine: members that failed, and an eviction request.
type failures struct {
	mu        sync.Mutex // guards the fields below
	failed    map[string]time.Time
	evictedBy string
	told      map[string]bool // returning members already told to restart
}

// left records a member that left the member list.
func (f *failures) left(n *memberlist.Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n.State == memberlist.StateLeft {
		delete(f.failed, n.Name)
		return
	}
	if f.failed == nil {
		f.failed = map[string]time.Time{}
	}
	f.failed[n.Name] = time.Now()
}

// message takes a user message from another member.
func (f *failures) message(msg []byte) bool {
	if !bytes.HasPrefix(msg, evictMsg) {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.evictedBy == "" {
		f.evictedBy = string(bytes.TrimSpace(msg[len(evictMsg):]))
		if f.evictedBy == "" {
			f.evictedBy = "another member"
		}
	}
	return true
}

// returning splits the alive members into those this node saw fail and
// the rest.
func (f *failures) returning(alive []Member, now time.Time) (back []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, at := range f.failed {
		if now.Sub(at) > failedMemory {
			delete(f.failed, id)
		}
	}
	for _, m := range alive {
		if _, ok := f.failed[m.ID]; ok {
			back = append(back, m.ID)
		}
	}
	return back
}

// mustRestart applies the rule: mine are the members of this node's side
// (itself included), back those of the other.
func mustRestart(mine, back []string) bool {
	if len(mine) != len(back) {
		return len(mine) < len(back)
	}
	return slices.Min(mine) > slices.Min(back)
}

// Evicted is closed when this node cannot go on as a member: the rest of
// the cluster declared it dead and it must restart with a new identity
// (see above), or another member advertises its address. EvictedErr says
// which.
func (p *Provider) Evicted() <-chan struct{} { return p.evicted }

// EvictedErr is why the node was evicted, once Evicted is closed.
func (p *Provider) EvictedErr() error {
	select {
	case <-p.evicted:
		return p.evictErr
	default:
		return nil
	}
}

func (p *Provider) evict(reason string, attrs ...any) {
	p.stop(errors.New("this node was declared dead by the cluster and must restart with a new identity: "+reason),
		attrs...)
}

// stop evicts the node with err (the first reason wins).
func (p *Provider) stop(err error, attrs ...any) {
	p.evictOnce.Do(func() {
		p.evictErr = err
		p.log.Error("cluster: "+err.Error(), attrs...)
		close(p.evicted)
	})
}

// heal runs in publish with the alive members: it decides which side of a
// healed split restarts, and returns the members to publish (the returning
// members of a staying side are left out: protoactor refuses them anyway).
func (p *Provider) heal(members []Member) []Member {
	p.fail.mu.Lock()
	by := p.fail.evictedBy
	p.fail.mu.Unlock()
	if by != "" {
		p.evict("the cluster declared it dead", slog.String("told_by", by))
		return members
	}
	back := p.fail.returning(members, time.Now())
	if len(back) == 0 {
		return members
	}
	var mine []string
	for _, m := range members {
		if !slices.Contains(back, m.ID) {
			mine = append(mine, m.ID)
		}
	}
	if mustRestart(mine, back) {
		p.evict("a split healed and this side is the smaller", slog.Any("this_side", mine), slog.Any("other_side", back))
		return members
	}
	p.fail.mu.Lock()
	var tell []string
	for _, id := range back {
		if !p.fail.told[id] {
			if p.fail.told == nil {
				p.fail.told = map[string]bool{}
			}
			p.fail.told[id] = true
			tell = append(tell, id)
		}
	}
	p.fail.mu.Unlock()
	if len(tell) > 0 {
		p.log.Warn("cluster: members declared dead are back; telling them to restart", slog.Any("members", tell))
		msg := append(slices.Clone(evictMsg), p.self.ID...)
		for _, n := range p.ml.Members() {
			if slices.Contains(tell, n.Name) {
				if err := p.ml.SendReliable(n, msg); err != nil {
					p.log.Warn("cluster: telling a member to restart failed", slog.String("member", n.Name),
						slog.Any("error", err))
				}
			}
		}
	}
	return slices.DeleteFunc(members, func(m Member) bool { return slices.Contains(back, m.ID) })
}
