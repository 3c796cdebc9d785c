package actors

import (
	"slices"
	"sync"

	"github.com/accordchat/accord/proto/nodepb"
)

// Grain kinds as protoactor names them (the generated NewXKind functions).
const (
	KindUser    = "User"
	KindGuild   = "Guild"
	KindChannel = "Channel"
)

// grainKinds lists the kinds in the order operators see them.
var grainKinds = [...]string{KindGuild, KindChannel, KindUser}

// hostedGrains is this node's registry of live grain activations by kind,
// kept for operators: a grain adds itself in Init and removes itself in
// Terminate (passivation, poison, fencing, node stop). Its own lock guards
// it; grains touch it only when they start and stop.
type hostedGrains struct {
	mu sync.Mutex
	// byKind maps a kind to its identities, each with its number of live
	// activations here (normally 1; a counter keeps a late Terminate of an
	// old activation from hiding a new one).
	byKind map[string]map[string]int
}

func newHostedGrains() *hostedGrains {
	h := &hostedGrains{byKind: make(map[string]map[string]int, len(grainKinds))}
	for _, k := range grainKinds {
		h.byKind[k] = map[string]int{}
	}
	return h
}

// activated records a new activation of kind/identity.
func (h *hostedGrains) activated(kind, identity string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.byKind[kind][identity]++
}

// stopped records that an activation of kind/identity stopped.
func (h *hostedGrains) stopped(kind, identity string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.byKind[kind]
	if set[identity] <= 1 {
		delete(set, identity)
		return
	}
	set[identity]--
}

// snapshot lists every kind with its count and up to limit identities,
// sorted (numerically for snowflakes: shorter first, then by text).
func (h *hostedGrains) snapshot(limit int) []*nodepb.GrainSet {
	out := make([]*nodepb.GrainSet, 0, len(grainKinds))
	h.mu.Lock()
	ids := make([][]string, len(grainKinds))
	for i, k := range grainKinds {
		set := h.byKind[k]
		out = append(out, &nodepb.GrainSet{Kind: k, Count: int64(len(set))})
		if limit > 0 {
			ids[i] = make([]string, 0, len(set))
			for id := range set {
				ids[i] = append(ids[i], id)
			}
		}
	}
	h.mu.Unlock()
	for i, gs := range out {
		list := ids[i]
		slices.SortFunc(list, func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			switch {
			case a < b:
				return -1
			case a > b:
				return 1
			}
			return 0
		})
		if len(list) > limit {
			list = list[:limit]
		}
		gs.Ids = list
		gs.Truncated = int64(len(list)) < gs.Count
	}
	return out
}
