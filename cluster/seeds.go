package cluster

import (
	"log/slog"
	"net"
	"slices"
	"time"
)

// joinLoop joins the cluster through the seeds, in the background, retrying
// with exponential backoff until this node shares the cluster with at least
// one other node. A seed that turns out to be this node (the join succeeds
// but we are still alone) is dropped when it is an IP literal; a hostname is
// kept, because a DNS name that lists only us now (the first pod of a
// headless Service) may list the others later. With no seeds left, or none
// given, the node runs alone until another node joins it.
func (p *Provider) joinLoop(seeds []string) {
	defer p.wg.Done()
	slices.Sort(seeds)
	pending := slices.Compact(seeds)
	if len(pending) == 0 {
		p.log.Info("cluster: no seeds; running alone until another node joins")
		return
	}
	wait := p.cfg.JoinBackoff
	for attempt := 1; ; attempt++ {
		var failures []string
		for i := 0; i < len(pending); {
			if p.stopping() {
				return
			}
			if p.ml.NumMembers() > 1 {
				p.log.Info("cluster: joined", slog.Int("members", p.ml.NumMembers()))
				return
			}
			seed := pending[i]
			n, err := p.ml.Join([]string{seed})
			switch {
			case err == nil && n > 0 && p.ml.NumMembers() > 1:
				p.log.Info("cluster: joined", slog.String("seed", seed), slog.Int("members", p.ml.NumMembers()))
				return
			case err == nil && n > 0 && isIPSeed(seed):
				p.log.Debug("cluster: seed is this node", slog.String("seed", seed))
				pending = slices.Delete(pending, i, i+1)
				continue
			case err != nil:
				failures = append(failures, seed+": "+err.Error())
			}
			i++
		}
		if len(pending) == 0 {
			p.log.Info("cluster: every seed is this node; running alone until another node joins")
			return
		}
		if len(failures) > 0 && (attempt == 1 || wait >= p.cfg.MaxJoinBackoff) {
			p.log.Warn("cluster: cannot reach any seed yet; retrying", slog.Int("attempt", attempt),
				slog.Duration("every", wait), slog.Any("errors", failures))
		}
		select {
		case <-p.quit:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, p.cfg.MaxJoinBackoff)
	}
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
