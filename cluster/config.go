package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// DefaultGossipPort is memberlist's conventional port, used when GossipAddr
// is empty.
const DefaultGossipPort = 7946

// Config configures a Provider. The zero value of every optional field is
// replaced by its default in New.
type Config struct {
	// GossipAddr is the host:port memberlist binds for gossip (UDP and TCP).
	// Port 0 picks a free port (tests). Empty means "0.0.0.0:7946".
	GossipAddr string
	// AdvertiseAddr is the host[:port] other nodes use to reach our gossip
	// listener. Empty: the bound address, or a private IP of this host when
	// binding 0.0.0.0. A hostname is resolved once at start. Without a port
	// the bound port is advertised.
	AdvertiseAddr string
	// Seeds are host:port gossip addresses of nodes to join. It may include
	// our own address (every node can be given the same list). A hostname
	// may resolve to many records (a Kubernetes headless Service).
	Seeds []string
	// SecretKey, when set, encrypts gossip (AES with a 16, 24 or 32 byte
	// key). Every node must share it.
	SecretKey []byte
	// Logger receives the provider's and memberlist's logs. Default:
	// slog.Default().
	Logger *slog.Logger

	// Debounce is how long the topology must be quiet after a change before
	// it is pushed to protoactor. Default 200ms.
	Debounce time.Duration
	// MaxDebounce bounds the wait under a steady stream of changes. Default 1s.
	MaxDebounce time.Duration
	// LeaveTimeout bounds how long a graceful Shutdown waits for the leave
	// broadcast. Default 5s.
	LeaveTimeout time.Duration
	// JoinGrace is how long a node whose seeds all stay unreachable waits
	// before it reports ready alone (it keeps trying to join). A node is
	// ready once it joined another node, found that its seeds name only
	// itself, or had no seeds; JoinGrace keeps a whole cluster that starts
	// at once, or the first node of a new one, from waiting forever for
	// each other. Default 15s.
	JoinGrace time.Duration
	// JoinBackoff is the first wait between seed join attempts; it doubles
	// up to MaxJoinBackoff. Defaults 250ms and 30s.
	JoinBackoff    time.Duration
	MaxJoinBackoff time.Duration
	// RejoinInterval is how often a joined node tries the seeds that are
	// not members (a healed partition). Default 10s.
	RejoinInterval time.Duration
}

func (c Config) withDefaults() Config {
	if c.GossipAddr == "" {
		c.GossipAddr = net.JoinHostPort("0.0.0.0", strconv.Itoa(DefaultGossipPort))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Debounce <= 0 {
		c.Debounce = 200 * time.Millisecond
	}
	if c.MaxDebounce < c.Debounce {
		c.MaxDebounce = max(time.Second, c.Debounce)
	}
	if c.LeaveTimeout <= 0 {
		c.LeaveTimeout = 5 * time.Second
	}
	if c.JoinGrace <= 0 {
		c.JoinGrace = 15 * time.Second
	}
	if c.RejoinInterval <= 0 {
		c.RejoinInterval = 10 * time.Second
	}
	if c.JoinBackoff <= 0 {
		c.JoinBackoff = 250 * time.Millisecond
	}
	if c.MaxJoinBackoff < c.JoinBackoff {
		c.MaxJoinBackoff = max(30*time.Second, c.JoinBackoff)
	}
	return c
}

// Validate reports a configuration that cannot start. cmd can call it before
// building anything; StartMember calls it too.
func (c Config) Validate() error {
	c = c.withDefaults()
	if _, _, err := splitHostPort(c.GossipAddr, true); err != nil {
		return fmt.Errorf("cluster: gossip address: %w", err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr, false); err != nil {
			return fmt.Errorf("cluster: advertise address: %w", err)
		}
	}
	for _, s := range c.Seeds {
		if _, _, err := splitHostPort(s, true); err != nil {
			return fmt.Errorf("cluster: seed %q: %w", s, err)
		}
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("cluster: secret key must be 16, 24 or 32 bytes, not %d", len(c.SecretKey))
	}
	return nil
}

// splitHostPort parses host:port; with portRequired false a bare host is
// accepted and port is returned as -1.
func splitHostPort(addr string, portRequired bool) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		if portRequired {
			return "", 0, err
		}
		if addr == "" {
			return "", 0, errors.New("empty address")
		}
		return addr, -1, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port in %q", addr)
	}
	return host, port, nil
}

// memberlistConfig builds memberlist's configuration: DefaultLANConfig, with
// DefaultLocalConfig's faster timings when gossip stays on loopback.
func (c Config) memberlistConfig(name string, events memberlist.EventDelegate, delegate memberlist.Delegate, logger *slog.Logger) (*memberlist.Config, error) {
	host, port, err := splitHostPort(c.GossipAddr, true)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address: %w", err)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	bindIP, err := resolveIP(host)
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip address: %w", err)
	}

	mc := memberlist.DefaultLANConfig()
	loopback := bindIP.IsLoopback()
	mc.Name = name
	mc.BindAddr = bindIP.String()
	mc.BindPort = port
	// DefaultLANConfig advertises 7946 whatever we bind; advertise the bound
	// port unless told otherwise. (memberlist overrides this itself when
	// BindPort is 0.)
	mc.AdvertisePort = port
	if c.AdvertiseAddr != "" {
		ahost, aport, err := splitHostPort(c.AdvertiseAddr, false)
		if err != nil {
			return nil, fmt.Errorf("cluster: advertise address: %w", err)
		}
		// memberlist wants an IP literal here.
		aip, err := resolveIP(ahost)
		if err != nil {
			return nil, fmt.Errorf("cluster: advertise address: %w", err)
		}
		mc.AdvertiseAddr = aip.String()
		if aport > 0 {
			mc.AdvertisePort = aport
		}
		loopback = loopback && aip.IsLoopback()
	}
	if loopback {
		// Everything is on this host: round trips are microseconds, so
		// probe and gossip on DefaultLocalConfig's faster timings. Keep the
		// LAN retransmit count and indirect checks: with Local's
		// RetransmitMult of 2 an alive message is sent only twice, and a
		// burst of joins then takes a push/pull round (15 s) to reach
		// every node.
		local := memberlist.DefaultLocalConfig()
		mc.TCPTimeout = local.TCPTimeout
		mc.SuspicionMult = local.SuspicionMult
		mc.PushPullInterval = local.PushPullInterval
		mc.ProbeTimeout = local.ProbeTimeout
		mc.ProbeInterval = local.ProbeInterval
		mc.GossipInterval = local.GossipInterval
		mc.GossipToTheDeadTime = local.GossipToTheDeadTime
	}
	if len(c.SecretKey) > 0 {
		mc.SecretKey = append([]byte(nil), c.SecretKey...)
	}
	mc.Events = events
	mc.Delegate = delegate
	mc.Logger = newStdLogger(logger)
	mc.LogOutput = nil
	return mc, nil
}

// resolveIP returns host's IP, preferring IPv4 ("localhost" often resolves to
// ::1 first, while seeds usually say 127.0.0.1).
func resolveIP(host string) (net.IP, error) {
	if ip := net.ParseIP(host); ip != nil {
		return ip, nil
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return nil, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("resolve %q: no addresses", host)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip, nil
		}
	}
	return ips[0], nil
}
