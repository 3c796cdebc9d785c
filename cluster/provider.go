// Package cluster is Accord's protoactor-go ClusterProvider: nodes find each
// other by memberlist gossip (seeds, optionally encrypted), and the provider
// feeds memberlist's member set into protoactor's MemberList, which places
// grains by consistent hashing over it.
//
// Membership flows one way. memberlist's callbacks only signal a capacity-1
// channel (memberlist holds its state lock while it calls them); one
// goroutine owned by the Provider coalesces the signals and pushes the full
// member set to protoactor.
package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
)

// ErrShutdown is returned when starting a Provider that was shut down.
var ErrShutdown = errors.New("cluster: provider shut down")

// Member is one node of the cluster as gossip sees it.
type Member struct {
	// ID is the node's actor system id, which is also its memberlist name;
	// it is fresh for every process.
	ID string
	// GossipAddr is the host:port of the node's memberlist.
	GossipAddr string
	// RemoteAddr is the host:port of the node's protoactor remoting.
	RemoteAddr string
	// Kinds are the grain kinds the node hosts, sorted.
	Kinds []string
	// started orders nodes that advertise the same address.
	started int64
}

// topologySink receives every new member set; in production it is
// protoactor's (*MemberList).UpdateClusterTopology.
type topologySink func(pcluster.Members)

// Provider is a memberlist-backed pcluster.ClusterProvider. Create it with
// New, hand it to actors.Start (which calls StartMember), and stop it
// through the cluster's Shutdown or directly with Shutdown.
type Provider struct {
	cfg Config
	log *slog.Logger

	// signal carries "membership may have changed" from memberlist's
	// callbacks to topologyLoop; capacity 1 coalesces bursts.
	signal chan struct{}
	// quit is closed by Shutdown and stops both goroutines.
	quit chan struct{}
	// wg tracks topologyLoop, joinLoop and rejoinLoop.
	wg sync.WaitGroup

	// ready is closed once the node is ready (see Ready); settled is set
	// by joinLoop when joining is over for readiness' sake.
	ready     chan struct{}
	readyOnce sync.Once
	settled   atomic.Bool

	// tune, when set (tests), adjusts memberlist's configuration last.
	tune func(*memberlist.Config)

	shutdownOnce sync.Once
	shutdownErr  error

	// fail records failed members and eviction requests (heal.go);
	// evicted is closed once this node must restart.
	fail      *failures
	evicted   chan struct{}
	evictErr  error // set before evicted is closed
	evictOnce sync.Once

	// mu guards the fields below. ml, self and sink are written once, by
	// start, before the goroutines that read them are started.
	mu      sync.Mutex
	started bool
	stopped bool
	ml      *memberlist.Memberlist
	self    Member
	sink    topologySink
	members []Member // last published, sorted by ID
}

var _ pcluster.ClusterProvider = (*Provider)(nil)

// New returns a Provider for cfg. Nothing starts until StartMember.
func New(cfg Config) *Provider {
	cfg = cfg.withDefaults()
	return &Provider{
		cfg:     cfg,
		log:     cfg.Logger.With(slog.String("component", "cluster")),
		signal:  make(chan struct{}, 1),
		quit:    make(chan struct{}),
		ready:   make(chan struct{}),
		fail:    &failures{},
		evicted: make(chan struct{}),
	}
}

// StartMember joins the gossip cluster as a node hosting c's kinds. protoactor
// calls it from (*pcluster.Cluster).StartMember, after remoting started.
func (p *Provider) StartMember(c *pcluster.Cluster) error {
	return p.startFor(c, c.GetClusterKinds())
}

// StartClient joins the gossip cluster as a node hosting no kinds: it sees
// the topology, and no grain is ever placed on it.
func (p *Provider) StartClient(c *pcluster.Cluster) error {
	return p.startFor(c, nil)
}

func (p *Provider) startFor(c *pcluster.Cluster, kinds []string) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil || port <= 0 {
		return fmt.Errorf("cluster: remoting has no address (%q): start remote first", c.ActorSystem.Address())
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("cluster: remoting address %s is not reachable from other nodes: advertise a routable address",
			c.ActorSystem.Address())
	}
	return p.start(c.ActorSystem.ID, net.JoinHostPort(host, strconv.Itoa(port)), kinds, c.MemberList.UpdateClusterTopology)
}

// start creates the memberlist named id, advertising remoteAddr and kinds,
// and starts the topology and seed-join goroutines. Tests call it directly
// with their own sink.
func (p *Provider) start(id, remoteAddr string, kinds []string, sink topologySink) error {
	if err := p.cfg.Validate(); err != nil {
		return err
	}
	kinds = slices.Clone(kinds)
	slices.Sort(kinds)
	started := time.Now().UnixNano()
	meta, err := encodeMeta(nodeMeta{Remote: remoteAddr, Kinds: kinds, Started: started})
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return ErrShutdown
	}
	if p.started {
		return errors.New("cluster: provider already started")
	}
	d := &delegate{meta: meta, signal: p.signal, log: p.log, fail: p.fail}
	mc, err := p.cfg.memberlistConfig(id, d, d, p.log)
	if err != nil {
		return err
	}
	mc.Conflict = d
	if p.tune != nil {
		p.tune(mc)
	}
	ml, err := memberlist.Create(mc)
	if err != nil {
		return fmt.Errorf("cluster: start memberlist: %w", err)
	}
	local := ml.LocalNode()
	p.ml = ml
	p.sink = sink
	p.self = Member{ID: id, GossipAddr: local.Address(), RemoteAddr: remoteAddr, Kinds: kinds, started: started}
	p.started = true
	p.log.Info("cluster: gossip started",
		slog.String("id", id), slog.String("gossip", p.self.GossipAddr), slog.String("remote", remoteAddr),
		slog.Bool("encrypted", len(p.cfg.SecretKey) > 0), slog.Any("seeds", p.cfg.Seeds))

	p.wg.Add(3)
	go p.topologyLoop()
	go p.joinLoop(slices.Clone(p.cfg.Seeds))
	go p.rejoinLoop(slices.Clone(p.cfg.Seeds))
	return nil
}

// Shutdown leaves the cluster (graceful: announce the leave, waiting up to
// LeaveTimeout, so other nodes re-place our grains at once instead of after
// failure detection) and stops memberlist. It is idempotent and safe to call
// concurrently; every call returns the first call's result.
func (p *Provider) Shutdown(graceful bool) error {
	p.shutdownOnce.Do(func() { p.shutdownErr = p.shutdown(graceful) })
	return p.shutdownErr
}

func (p *Provider) shutdown(graceful bool) error {
	p.mu.Lock()
	p.stopped = true
	ml := p.ml
	p.mu.Unlock()

	// Stop publishing first: after Leave our own node is "left" and a
	// published set without us would make protoactor block our own id.
	close(p.quit)
	p.wg.Wait()
	if ml == nil {
		return nil
	}
	var errs []error
	if graceful {
		if err := ml.Leave(p.cfg.LeaveTimeout); err != nil {
			errs = append(errs, fmt.Errorf("cluster: leave: %w", err))
		}
	}
	if err := ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("cluster: stop memberlist: %w", err))
	}
	p.log.Info("cluster: gossip stopped", slog.String("id", p.self.ID), slog.Bool("graceful", graceful))
	return errors.Join(errs...)
}

// Members returns the member set last pushed to protoactor, sorted by ID.
func (p *Provider) Members() []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Member, len(p.members))
	for i, m := range p.members {
		m.Kinds = slices.Clone(m.Kinds)
		out[i] = m
	}
	return out
}

// Ready is closed once this node has joined its cluster and pushed a
// topology that includes it (so grains can be placed). Joined means: it
// shares the cluster with another node, or it had no seeds, or its seeds
// named only itself (the first node of a cluster), or none of its seeds
// answered within JoinGrace (it then runs alone and keeps trying). /readyz
// waits on it.
func (p *Provider) Ready() <-chan struct{} { return p.ready }

// settle marks joining as over for readiness and has the topology
// goroutine publish (and so close ready) with the member set as it is now.
func (p *Provider) settle() {
	p.settled.Store(true)
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// GossipAddr returns the gossip address of member id in the last published
// member set.
func (p *Provider) GossipAddr(id string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if m.ID == id {
			return m.GossipAddr, true
		}
	}
	return "", false
}

// delegate receives memberlist's callbacks. memberlist may hold its state
// lock while calling them, so they never block and never call memberlist:
// they only signal the topology goroutine.
type delegate struct {
	meta   []byte // immutable
	signal chan<- struct{}
	log    *slog.Logger
	fail   *failures
}

func (d *delegate) notify() {
	select {
	case d.signal <- struct{}{}:
	default: // a signal is already pending; it covers this change too
	}
}

func (d *delegate) NotifyJoin(*memberlist.Node) { d.notify() }
func (d *delegate) NotifyLeave(n *memberlist.Node) {
	d.fail.left(n)
	d.notify()
}
func (d *delegate) NotifyUpdate(*memberlist.Node) { d.notify() }

// NodeMeta returns our metadata; start checked it fits memberlist's limit.
func (d *delegate) NodeMeta(limit int) []byte { return d.meta }
func (d *delegate) NotifyMsg(msg []byte) {
	if d.fail.message(msg) {
		d.notify()
	}
}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// NotifyConflict is called when another node claims our name; node names
// are fresh per process, so this means a misconfiguration or a replay.
func (d *delegate) NotifyConflict(existing, other *memberlist.Node) {
	d.log.Warn("cluster: node name conflict",
		slog.String("name", existing.Name), slog.String("existing", existing.Address()), slog.String("other", other.Address()))
}
