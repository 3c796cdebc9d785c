// Package actors hosts Accord's grains (virtual actors placed over the
// cluster by protoactor-go's disthash identity lookup) and the typed clients
// the rest of the server calls them through.
//
// A process runs at most one System: protoactor's generated grain factories
// are package-level variables.
package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
	sockaddr "github.com/hashicorp/go-sockaddr"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/channelpb"
	"github.com/accordchat/accord/proto/guildpb"
	"github.com/accordchat/accord/proto/userpb"
)

// UserStore is what the user grain reads and writes. *persistence.Store
// implements it.
type UserStore interface {
	UserByID(ctx context.Context, id int64) (persistence.User, error)
	UpdateUser(ctx context.Context, id int64, u persistence.UserUpdate) (persistence.User, error)
}

// PasswordHasher hashes and verifies passwords. *password.Hasher implements it.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error)
}

// Config configures a System. Zero optional fields take the defaults below.
type Config struct {
	// Name is the cluster name; every node of a cluster uses the same.
	// Default "accord".
	Name string
	// RemoteAddr is the host:port protoactor remoting (gRPC) binds. Port 0
	// picks a free port. Default "127.0.0.1:0".
	RemoteAddr string
	// AdvertiseAddr is the host[:port] other nodes reach our remoting at.
	// Default: RemoteAddr, or a private IP of this host with RemoteAddr's
	// port when RemoteAddr binds all interfaces. Remoting is plain gRPC:
	// keep it on a private network (it carries passwords to the user grain).
	AdvertiseAddr string
	// Provider finds the other nodes; Accord's is *cluster.Provider.
	// Required.
	Provider pcluster.ClusterProvider
	// Users is the user grain's store. Required.
	Users UserStore
	// Passwords verifies and hashes passwords for the user grain. Required.
	Passwords PasswordHasher
	// Guilds is the guild grain's store. Required.
	Guilds GuildStore
	// Channels is the channel grain's store. Required.
	Channels ChannelStore
	// Writer commits message rows in groups. Required.
	Writer MessageWriter
	// IDs issues the snowflakes of created guilds, channels and roles.
	// Required.
	IDs IDSource
	// Fanout delivers events to this node's sessions: those grains here
	// emit, and those other nodes send for recipients here. Optional:
	// without it events are dropped.
	Fanout Fanout
	// HTTPAddr is this node's HTTP listener as operators reach it; it is
	// only reported (ClusterInfo). Optional.
	HTTPAddr string
	// Logger receives the System's logs. Default slog.Default().
	Logger *slog.Logger
	// ActorLogLevel is the lowest level of protoactor's own logs that reach
	// Logger. Default slog.LevelWarn: protoactor logs every activation and
	// topology change at Info.
	ActorLogLevel slog.Leveler
	// RequestTimeout bounds a grain call when the caller's context has no
	// earlier deadline, and every store call a grain makes. Default 5s.
	RequestTimeout time.Duration
	// UserIdleTimeout passivates a user grain that received nothing for
	// this long. Default 10 minutes.
	UserIdleTimeout time.Duration
	// GuildIdleTimeout passivates an idle guild grain. Default 30 minutes.
	GuildIdleTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = "accord"
	}
	if c.RemoteAddr == "" {
		c.RemoteAddr = "127.0.0.1:0"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.ActorLogLevel == nil {
		c.ActorLogLevel = slog.LevelWarn
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.UserIdleTimeout <= 0 {
		c.UserIdleTimeout = 10 * time.Minute
	}
	if c.GuildIdleTimeout <= 0 {
		c.GuildIdleTimeout = 30 * time.Minute
	}
	return c
}

// running guards the package-level grain factories: one System per process.
var running atomic.Bool

// System is this node's actor system, remoting and cluster membership.
type System struct {
	cfg      Config
	log      *slog.Logger
	actors   *actor.ActorSystem
	cluster  *pcluster.Cluster
	users    *Users
	guilds   *Guilds
	channels *Channels
	// dispatch runs the grains' mailboxes.
	dispatch *workerDispatcher
	// replies are the reply processes of request.
	replies replyPool
	// fencings counts channel activations that found themselves fenced out.
	fencings atomic.Int64
	// guildFencings counts guild activations that found themselves fenced
	// out.
	guildFencings atomic.Int64
	// nodes is node-to-node messaging: cross-node fan-out, the directory
	// of users' sessions, session hand-over.
	nodes *nodes
	// hosted counts this node's live grain activations, for operators.
	hosted *hostedGrains

	stopped  atomic.Bool // set first thing in Stop; clients refuse new calls
	stopOnce sync.Once
}

// Start starts the actor system, remoting and the cluster member with every
// grain kind registered, and returns once this node is part of its own
// cluster topology (so grains can be placed) or ctx ends.
func Start(ctx context.Context, cfg Config) (*System, error) {
	cfg = cfg.withDefaults()
	switch {
	case cfg.Provider == nil:
		return nil, errors.New("actors: Config.Provider is required")
	case cfg.Users == nil:
		return nil, errors.New("actors: Config.Users is required")
	case cfg.Passwords == nil:
		return nil, errors.New("actors: Config.Passwords is required")
	case cfg.Guilds == nil:
		return nil, errors.New("actors: Config.Guilds is required")
	case cfg.IDs == nil:
		return nil, errors.New("actors: Config.IDs is required")
	case cfg.Channels == nil || cfg.Writer == nil:
		return nil, errors.New("actors: Config.Channels and Config.Writer are required")
	}
	bindHost, bindPort, advertise, err := remoteAddresses(cfg.RemoteAddr, cfg.AdvertiseAddr)
	if err != nil {
		return nil, err
	}
	if !running.CompareAndSwap(false, true) {
		return nil, ErrAlreadyRunning
	}

	s := &System{cfg: cfg, log: cfg.Logger.With(slog.String("component", "actors")), replies: newReplyPool(1024)}
	s.users = &Users{s: s}
	s.guilds = &Guilds{s: s}
	s.channels = &Channels{s: s}
	s.nodes = newNodes(s)
	s.hosted = newHostedGrains()
	actorLog := slog.New(minLevelHandler{Handler: cfg.Logger.Handler(), min: cfg.ActorLogLevel})
	s.actors = actor.NewActorSystem(actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
		return actorLog.With(slog.String("lib", "protoactor"), slog.String("system", sys.ID))
	}))

	// The generated factory is a package-level variable; running makes sure
	// only this System's grains are produced.
	s.dispatch = newWorkerDispatcher(8*runtime.GOMAXPROCS(0), 300)
	withDispatch := actor.WithDispatcher(s.dispatch)
	userKind := userpb.NewUserKind(func() userpb.User { return &userGrain{sys: s} }, cfg.UserIdleTimeout, withDispatch)
	guildKind := guildpb.NewGuildKind(func() guildpb.Guild { return &guildGrain{sys: s} }, cfg.GuildIdleTimeout, withDispatch)
	channelKind := channelpb.NewChannelKind(func() channelpb.Channel { return &channelGrain{sys: s} }, cfg.GuildIdleTimeout, withDispatch)
	remoteCfg := remote.Configure(bindHost, bindPort, remote.WithAdvertisedHost(advertise))
	clusterCfg := pcluster.Configure(cfg.Name, cfg.Provider, disthash.New(), remoteCfg,
		pcluster.WithKinds(userKind, guildKind, channelKind),
		pcluster.WithRequestTimeout(cfg.RequestTimeout))
	s.cluster = pcluster.New(s.actors, clusterCfg)
	if err := s.nodes.start(); err != nil {
		running.Store(false)
		return nil, err
	}

	// Wait on topology events, not TopologyConsensus: in this protoactor
	// version consensus never signals.
	inTopology := make(chan struct{})
	var once sync.Once
	sub := s.actors.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*pcluster.ClusterTopology); ok {
			for _, m := range t.Members {
				if m.Id == s.actors.ID {
					once.Do(func() { close(inTopology) })
				}
			}
		}
	})
	defer s.actors.EventStream.Unsubscribe(sub)

	// StartMember panics on every failure (listen, provider) and then
	// sleeps a second.
	if err := startMember(s.cluster); err != nil {
		s.abort()
		return nil, err
	}
	select {
	case <-inTopology:
	case <-ctx.Done():
		s.Stop()
		return nil, fmt.Errorf("actors: waiting to join the cluster topology: %w", ctx.Err())
	}
	s.log.Info("actors: started", slog.String("id", s.actors.ID), slog.String("remote", s.actors.Address()),
		slog.String("cluster", cfg.Name))
	return s, nil
}

func startMember(c *pcluster.Cluster) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("actors: start cluster member: %v", r)
		}
	}()
	c.StartMember()
	return nil
}

// abort tears down a half-started System.
func (s *System) abort() {
	s.stopped.Store(true)
	func() {
		defer func() { _ = recover() }()
		_ = s.cfg.Provider.Shutdown(false)
	}()
	func() {
		defer func() { _ = recover() }()
		s.actors.Shutdown()
		if s.cluster.Remote != nil {
			s.cluster.Remote.Shutdown(false)
		}
	}()
	s.dispatch.stop()
	running.Store(false)
}

// Stop leaves the cluster gracefully: the provider announces the leave,
// local grains are stopped (so other nodes take them over), remoting drains.
// It takes a few seconds (protoactor waits 2s for ownership to move) and is
// idempotent; concurrent callers wait for the first.
func (s *System) Stop() {
	s.stopOnce.Do(func() {
		s.stopped.Store(true)
		s.cluster.Shutdown(true)
		s.dispatch.stop()
		running.Store(false)
		s.log.Info("actors: stopped", slog.String("id", s.actors.ID))
	})
}

// ID is this node's actor system id, which is also its cluster member id.
func (s *System) ID() string { return s.actors.ID }

// Address is the host:port other nodes reach this node's remoting at.
func (s *System) Address() string { return s.actors.Address() }

// Users returns the typed client of the user grains.
func (s *System) Users() *Users { return s.users }

// remoteAddresses resolves where remoting binds and what it advertises.
// protoactor's "AdvertisedHost" is a whole host:port, so a port-0 bind is
// resolved to a concrete free port first.
func remoteAddresses(bind, advertise string) (host string, port int, adv string, err error) {
	host, portStr, err := net.SplitHostPort(bind)
	if err != nil {
		return "", 0, "", fmt.Errorf("actors: remote address %q: %w", bind, err)
	}
	port, err = strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, "", fmt.Errorf("actors: remote address %q: bad port", bind)
	}
	if port == 0 {
		// Small race: the port could be taken between here and remoting's
		// own Listen. Only tests bind port 0.
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return "", 0, "", fmt.Errorf("actors: pick a remote port: %w", err)
		}
		port = l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
	}

	advHost, advPort := host, port
	if advertise != "" {
		if h, p, err := net.SplitHostPort(advertise); err == nil {
			advHost = h
			if advPort, err = strconv.Atoi(p); err != nil || advPort <= 0 || advPort > 65535 {
				return "", 0, "", fmt.Errorf("actors: advertise address %q: bad port", advertise)
			}
		} else {
			advHost = advertise
		}
	}
	if ip := net.ParseIP(advHost); advHost == "" || (ip != nil && ip.IsUnspecified()) {
		priv, err := sockaddr.GetPrivateIP()
		if err != nil || priv == "" {
			return "", 0, "", fmt.Errorf("actors: remote binds all interfaces and no private IP was found: set AdvertiseAddr")
		}
		advHost = priv
	}
	return host, port, net.JoinHostPort(advHost, strconv.Itoa(advPort)), nil
}
