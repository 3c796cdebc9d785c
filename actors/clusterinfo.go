package actors

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/accordchat/accord/proto/nodepb"
)

// DefaultInfoLimit is how many identities per grain kind ClusterInfo lists
// for each member when the caller asks for none in particular.
const DefaultInfoLimit = 100

// MaxInfoLimit bounds the identities listed per kind and member.
const MaxInfoLimit = 1000

// infoTimeout bounds how long ClusterInfo waits for a member to answer when
// ctx has no earlier deadline.
const infoTimeout = 2 * time.Second

// GrainSet is one member's live activations of a grain kind.
type GrainSet struct {
	Count int64
	// IDs are up to the requested limit of the identities, sorted.
	IDs []string
	// Truncated says Count is larger than len(IDs).
	Truncated bool
}

// MemberInfo is one cluster member as an operator sees it.
type MemberInfo struct {
	// ID is the member id (the node's actor system id, fresh per process).
	ID string
	// GossipAddr is the memberlist address, when the cluster provider
	// knows it; RemoteAddr the actor remoting address; HTTPAddr the
	// member's configured HTTP listener, when it answered and knows it.
	GossipAddr, RemoteAddr, HTTPAddr string
	// Self marks the node that collected the information.
	Self bool
	// Reachable says the member answered; Error says why not.
	Reachable bool
	Error     string
	// Users counts the users with gateway sessions on the member.
	Users int64
	// Grains are the member's live activations by kind (KindGuild,
	// KindChannel, KindUser); empty when it did not answer.
	Grains map[string]GrainSet
}

// ClusterInfo is every member of the cluster topology with what it hosts.
type ClusterInfo struct {
	// Self is this node's member id.
	Self string
	// Members are sorted by ID.
	Members []MemberInfo
}

// gossipAddresser is the optional ability of a cluster provider to name a
// member's gossip address; *cluster.Provider has it.
type gossipAddresser interface {
	GossipAddr(memberID string) (string, bool)
}

// ClusterInfo asks every member of the current topology, in parallel, what
// it hosts, listing up to limit identities per grain kind (0 lists none;
// at most MaxInfoLimit). A member that does not answer before ctx's
// deadline (or 2 s) is listed as unreachable.
func (s *System) ClusterInfo(ctx context.Context, limit int) ClusterInfo {
	limit = max(0, min(limit, MaxInfoLimit))
	timeout := infoTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Millisecond, min(timeout, time.Until(dl)))
	}
	ga, _ := s.cfg.Provider.(gossipAddresser)
	self := s.actors.ID
	members := s.cluster.MemberList.Members().Members()
	out := ClusterInfo{Self: self, Members: make([]MemberInfo, len(members))}
	var wg sync.WaitGroup
	for i, m := range members {
		mi := &out.Members[i]
		mi.ID = m.Id
		mi.RemoteAddr = net.JoinHostPort(m.Host, strconv.Itoa(int(m.Port)))
		if ga != nil {
			mi.GossipAddr, _ = ga.GossipAddr(m.Id)
		}
		if m.Id == self {
			mi.Self = true
			mi.fill(s.nodes.info(limit))
			continue
		}
		pid := actor.NewPID(mi.RemoteAddr, nodeActorName)
		wg.Go(func() {
			res, err := s.actors.Root.RequestFuture(pid, &nodepb.InfoRequest{Limit: int32(limit)}, timeout).Result()
			info, ok := res.(*nodepb.NodeInfo)
			switch {
			case err != nil:
				mi.Error = err.Error()
			case !ok:
				mi.Error = "unexpected answer"
			default:
				mi.fill(info)
				return
			}
			s.log.Warn("actors: a member did not report what it hosts", slog.String("node", mi.ID),
				slog.String("address", mi.RemoteAddr), slog.String("error", mi.Error))
		})
	}
	wg.Wait()
	slices.SortFunc(out.Members, func(a, b MemberInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (mi *MemberInfo) fill(info *nodepb.NodeInfo) {
	mi.Reachable = true
	mi.HTTPAddr = info.HttpAddr
	mi.Users = info.Users
	mi.Grains = make(map[string]GrainSet, len(info.Grains))
	for _, g := range info.Grains {
		mi.Grains[g.Kind] = GrainSet{Count: g.Count, IDs: g.Ids, Truncated: g.Truncated}
	}
}

// info is this node's answer to InfoRequest.
func (n *nodes) info(limit int) *nodepb.NodeInfo {
	limit = max(0, min(limit, MaxInfoLimit))
	n.sendMu.Lock()
	users := len(n.local)
	n.sendMu.Unlock()
	return &nodepb.NodeInfo{NodeId: n.self, RemoteAddr: n.s.actors.Address(), HttpAddr: n.s.cfg.HTTPAddr,
		Grains: n.s.hosted.snapshot(limit), Users: int64(users)}
}
