package cluster

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// topologyLoop owns publishing: it pushes the member set once at start, then
// after every burst of membership signals, once the burst has been quiet for
// Debounce (or has lasted MaxDebounce).
func (p *Provider) topologyLoop() {
	defer p.wg.Done()
	p.publish()
	for {
		select {
		case <-p.quit:
			return
		case <-p.signal:
		}
		if !p.coalesce() {
			return
		}
		p.publish()
	}
}

// coalesce absorbs further signals until the quiet period or the maximum
// delay passes. It reports false when the provider is shutting down.
func (p *Provider) coalesce() bool {
	quiet := time.NewTimer(p.cfg.Debounce)
	defer quiet.Stop()
	limit := time.NewTimer(p.cfg.MaxDebounce)
	defer limit.Stop()
	for {
		select {
		case <-p.quit:
			return false
		case <-p.signal:
			quiet.Reset(p.cfg.Debounce)
		case <-quiet.C:
			return true
		case <-limit.C:
			return true
		}
	}
}

// publish reads memberlist's member set (alive and suspect nodes: a suspect
// may still refute, and protoactor blocks for good every member that leaves
// its topology) and pushes it to the sink when it changed.
func (p *Provider) publish() {
	nodes := p.ml.Members()
	members := make([]Member, 0, len(nodes))
	for _, n := range nodes {
		meta, err := decodeMeta(n.Meta)
		if err != nil {
			p.log.Warn("cluster: ignoring member with bad metadata", slog.String("id", n.Name),
				slog.String("gossip", n.Address()), slog.Any("error", err))
			continue
		}
		members = append(members, Member{
			ID:         n.Name,
			GossipAddr: n.Address(),
			RemoteAddr: meta.Remote,
			Kinds:      meta.Kinds,
			started:    meta.Started,
		})
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	members = p.heal(p.sameAddress(members))

	p.mu.Lock()
	prev := p.members
	changed := !slices.EqualFunc(prev, members, sameMember)
	if changed {
		p.members = members
	}
	p.mu.Unlock()
	if !changed {
		p.checkReady(members)
		return
	}

	joined, left := diffMembers(prev, members)
	p.log.Info("cluster: topology changed", slog.Int("members", len(members)),
		slog.Any("joined", joined), slog.Any("left", left))
	p.sink(toProtoMembers(members))
	p.checkReady(members)
}

// checkReady closes ready once joining settled and the published member
// set includes this node. Called by publish after the set was pushed.
func (p *Provider) checkReady(members []Member) {
	if p.settled.Load() && slices.ContainsFunc(members, func(m Member) bool { return m.ID == p.self.ID }) {
		p.readyOnce.Do(func() { close(p.ready) })
	}
}

func sameMember(a, b Member) bool {
	return a.ID == b.ID && a.GossipAddr == b.GossipAddr && a.RemoteAddr == b.RemoteAddr && slices.Equal(a.Kinds, b.Kinds)
}

func diffMembers(prev, next []Member) (joined, left []string) {
	has := func(set []Member, id string) bool {
		return slices.ContainsFunc(set, func(m Member) bool { return m.ID == id })
	}
	for _, m := range next {
		if !has(prev, m.ID) {
			joined = append(joined, m.ID)
		}
	}
	for _, m := range prev {
		if !has(next, m.ID) {
			left = append(left, m.ID)
		}
	}
	return joined, left
}

// toProtoMembers builds fresh protoactor members: protoactor sorts and keeps
// the slice it is given.
func toProtoMembers(members []Member) pcluster.Members {
	out := make(pcluster.Members, 0, len(members))
	for _, m := range members {
		host, portStr, _ := net.SplitHostPort(m.RemoteAddr) // checked by decodeMeta
		port, _ := strconv.Atoi(portStr)
		out = append(out, &pcluster.Member{
			Id:    m.ID,
			Host:  host,
			Port:  int32(port),
			Kinds: slices.Clone(m.Kinds),
		})
	}
	return out
}

// sameAddress finds members that advertise this node's gossip or remoting
// address (a misconfigured --advertise-addr or ports): the younger of two
// such nodes stops with an error saying so; the older leaves the younger
// out of its topology until it is gone.
func (p *Provider) sameAddress(members []Member) []Member {
	return slices.DeleteFunc(members, func(m Member) bool {
		if m.ID == p.self.ID || (m.GossipAddr != p.self.GossipAddr && m.RemoteAddr != p.self.RemoteAddr) {
			return false
		}
		younger := p.self.started > m.started || (p.self.started == m.started && p.self.ID > m.ID)
		if younger {
			p.stop(fmt.Errorf("member %s advertises this node's address (gossip %s, remoting %s): "+
				"give every node its own --advertise-addr or ports", m.ID, m.GossipAddr, m.RemoteAddr))
			return false
		}
		p.log.Error("cluster: a newer member advertises this node's address; leaving it out until it stops",
			slog.String("member", m.ID), slog.String("gossip", m.GossipAddr), slog.String("remote", m.RemoteAddr))
		return true
	})
}
