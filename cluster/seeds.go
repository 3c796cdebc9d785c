package cluster

import (
	"log/slog"
	"net"
	"slices"
	"strconv"
	"time"
)

// joinLoop joins the cluster through the seeds, in the background, retrying
// with exponential backoff until this node shares the cluster with at least
// one other node. A seed that turns out to be this node (the join succeeds
// but we are still alone) is dropped when it is an IP literal; a hostname is
// kept, because a DNS name that lists only us now (the first pod of a
// headless Service) may list the others later. With no seeds left, or none
// given, the node runs alone until another node joins it.
//
// Readiness (Ready) follows: the node settles once it joined, once a seed
// answered that turned out to be only itself, or with no seeds; when no
// seed answers it settles after JoinGrace and keeps trying.
func (p *Provider) joinLoop(seeds []string) {
	defer p.wg.Done()
	slices.Sort(seeds)
	pending := slices.Compact(seeds)
	if len(pending) == 0 {
		p.log.Info("cluster: no seeds; running alone until another node joins")
		p.settle()
		return
	}
	grace := time.NewTimer(p.cfg.JoinGrace)
	defer grace.Stop()
	wait := p.cfg.JoinBackoff
	for attempt := 1; ; attempt++ {
		var failures []string
		for i := 0; i < len(pending); {
			if p.stopping() {
				return
			}
			if p.ml.NumMembers() > 1 {
				p.log.Info("cluster: joined", slog.Int("members", p.ml.NumMembers()))
				p.settle()
				return
			}
			seed := pending[i]
			n, err := p.ml.Join([]string{seed})
			switch {
			case err == nil && n > 0 && p.ml.NumMembers() > 1:
				p.log.Info("cluster: joined", slog.String("seed", seed), slog.Int("members", p.ml.NumMembers()))
				p.settle()
				return
			case err == nil && n > 0 && isIPSeed(seed):
				p.log.Debug("cluster: seed is this node", slog.String("seed", seed))
				pending = slices.Delete(pending, i, i+1)
				continue
			case err == nil && n > 0:
				// A name that resolves only to us: we are the first node.
				if !p.settled.Load() {
					p.log.Info("cluster: seed names only this node; ready alone, still joining",
						slog.String("seed", seed))
					p.settle()
				}
			case err != nil:
				failures = append(failures, seed+": "+err.Error())
			}
			i++
		}
		if len(pending) == 0 {
			p.log.Info("cluster: every seed is this node; running alone until another node joins")
			p.settle()
			return
		}
		if len(failures) > 0 && (attempt == 1 || wait >= p.cfg.MaxJoinBackoff) {
			p.log.Warn("cluster: cannot reach any seed yet; retrying", slog.Int("attempt", attempt),
				slog.Duration("every", wait), slog.Any("errors", failures))
		}
		retry := time.NewTimer(wait)
		for waiting := true; waiting; {
			select {
			case <-p.quit:
				retry.Stop()
				return
			case <-grace.C:
				if !p.settled.Load() {
					p.log.Warn("cluster: no seed answered; ready alone, still trying to join",
						slog.Duration("grace", p.cfg.JoinGrace), slog.Any("seeds", pending))
					p.settle()
				}
			case <-retry.C:
				waiting = false
			}
		}
		wait = min(2*wait, p.cfg.MaxJoinBackoff)
	}
}

// rejoinLoop keeps knocking at the seeds that are not members, every
// RejoinInterval, once the node has joined: memberlist never contacts a
// member it declared dead again, so after a partition heals the two sides
// would stay apart. A seed resolving to members already known is skipped,
// so a settled cluster makes no joins.
func (p *Provider) rejoinLoop(seeds []string) {
	defer p.wg.Done()
	if len(seeds) == 0 {
		return
	}
	tick := time.NewTicker(p.cfg.RejoinInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-tick.C:
		}
		if !p.settled.Load() {
			continue // joinLoop is still at it
		}
		known := map[string]bool{p.self.GossipAddr: true}
		for _, n := range p.ml.Members() {
			known[n.Address()] = true
		}
		var missing []string
		for _, seed := range seeds {
			for _, addr := range resolveSeed(seed) {
				if !known[addr] {
					missing = append(missing, addr)
				}
			}
		}
		if len(missing) == 0 || p.stopping() {
			continue
		}
		n, err := p.ml.Join(missing)
		if n > 0 {
			p.log.Info("cluster: rejoined seeds that were not members", slog.Any("seeds", missing), slog.Int("answered", n))
		} else {
			p.log.Debug("cluster: seeds that are not members did not answer", slog.Any("seeds", missing), slog.Any("error", err))
		}
	}
}

// resolveSeed turns a seed (host:port, or host with the default port) into
// the addresses it names.
func resolveSeed(seed string) []string {
	host, port, err := net.SplitHostPort(seed)
	if err != nil {
		host, port = seed, strconv.Itoa(DefaultGossipPort)
	}
	if net.ParseIP(host) != nil {
		return []string{net.JoinHostPort(host, port)}
	}
	ips, err := net.LookupHost(host)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip, port))
	}
	return out
}

func (p *Provider) stopping() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

func isIPSeed(seed string) bool {
	host, _, err := net.SplitHostPort(seed)
	if err != nil {
		host = seed
	}
	return net.ParseIP(host) != nil
}
