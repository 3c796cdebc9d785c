package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/token"
)

// TokenVerifier checks access tokens. *token.Issuer implements it.
type TokenVerifier interface {
	Verify(raw string) (token.Claims, error)
}

// Store is what the gateway reads from the database. *persistence.Store
// implements it.
type Store interface {
	// FamilyActive reports whether a token's login is still active.
	FamilyActive(ctx context.Context, familyID, userID int64) (bool, error)
	// GuildIDsOfUser lists the guilds a user is a member of.
	GuildIDsOfUser(ctx context.Context, userID int64) ([]int64, error)
}

// UserSource reads users. *actors.Users implements it.
type UserSource interface {
	Get(ctx context.Context, id int64) (persistence.User, error)
}

// GuildCaller runs guild grain operations. *actors.Guilds implements it.
type GuildCaller interface {
	Call(ctx context.Context, req actors.GuildRequest) (actors.GuildResponse, error)
}

// DMSource lists a user's DM channels. *actors.Channels implements it.
type DMSource interface {
	DMChannelsOf(ctx context.Context, caller int64) ([]discord.DMChannel, error)
}

// Cluster is the rest of the cluster as the gateway sees it.
// *actors.System implements it.
type Cluster interface {
	// Publish delivers an event the gateway emits (PRESENCE_UPDATE) here
	// and on the other nodes.
	Publish(ev actors.Event)
	// Attach records a new local session of userID; once it returns, the
	// user's events from every node reach this one.
	Attach(ctx context.Context, userID int64, p actors.UserPresence)
	// Detach records that a local session of userID ended.
	Detach(userID int64)
	// SetPresence records userID's presence on this node.
	SetPresence(userID int64, p actors.UserPresence)
	// RemotePresences returns userID's presences on other nodes.
	RemotePresences(userID int64) []actors.UserPresence
	// HasPeers reports whether other nodes are there to resume on.
	HasPeers() bool
	// SessionTag begins the ids of sessions this node issues.
	SessionTag() string
	// TakeOver has the node that issued sessionID hand it over.
	TakeOver(ctx context.Context, sessionID string, userID, seq int64) ([]byte, error)
}

// Config configures a Server. Every field is required unless marked
// optional; zero durations and limits take the defaults named.
type Config struct {
	Tokens TokenVerifier
	Store  Store
	Users  UserSource
	Guilds GuildCaller
	// DMs fills READY's private_channels. Optional: without it the list is
	// empty.
	DMs DMSource
	// PublicURL is the gateway's URL as clients reach it (ws:// or wss://,
	// without query), sent as READY's resume_gateway_url. Optional: by
	// default it is derived from each upgrade request's Host header.
	PublicURL string
	// Bots verifies bot tokens and reads the application flags that decide
	// which privileged intents a bot may use (asking for others closes with
	// 4014). Optional: without it bot tokens are refused and bots may use
	// all three (a new application has them all).
	Bots BotSource
	// Cluster connects the gateway to the other nodes: events for its
	// sessions come from every node, presences are cluster-wide, and a
	// session resumes on any node. Optional: without it the gateway serves
	// one node alone.
	Cluster Cluster

	// HeartbeatInterval is sent in Hello. Default 41.25 s (Discord's).
	HeartbeatInterval time.Duration
	// HeartbeatGrace is how long past the interval a connection may stay
	// silent before it is closed with 4009. Default 15 s.
	HeartbeatGrace time.Duration
	// MaxPayload bounds a client message. Default 4096 bytes (Discord's).
	MaxPayload int
	// CommandLimit commands per CommandWindow are allowed; one more closes
	// with 4008. Default 120 per 60 s (Discord's).
	CommandLimit  int
	CommandWindow time.Duration
	// QueueLimit bounds the frames queued for one connection; a connection
	// that falls this far behind is closed with 4000 (it resumes). A
	// resume's replay is not counted against it. Default 4096.
	QueueLimit int
	// FanoutWorkers deliver published events, each to its share of the
	// users. Default GOMAXPROCS.
	FanoutWorkers int
	// FanoutQueue bounds the events queued per fan-out worker; Publish
	// waits while the queue is full. Default 1024.
	FanoutQueue int
	// ReplayLimit is how many dispatches a session keeps for resuming.
	// Default 1000.
	ReplayLimit int
	// ResumeWindow is how long a session without a connection is kept for
	// resuming. Default 2 minutes.
	ResumeWindow time.Duration
	// PresenceGrace is how long a user whose last connection closed still
	// shows online, so that a quick resume does not flap their presence.
	// Default 10 s; negative means none.
	PresenceGrace time.Duration
	// WriteTimeout bounds one write to a socket. Default 10 s.
	WriteTimeout time.Duration
	// CloseGrace is how long after a close frame the peer may take to
	// close the TCP connection. Default 2 s.
	CloseGrace time.Duration
	// RequestTimeout bounds the grain and store calls of one command
	// (Identify loads every guild under it). Default 15 s.
	RequestTimeout time.Duration
	// SweepInterval is how often expired sessions and pending presence
	// changes are looked at. Default 1 s.
	SweepInterval time.Duration
	// Logger receives the gateway's logs. Default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatInterval, 41250*time.Millisecond)
	def(&c.HeartbeatGrace, 15*time.Second)
	def(&c.CommandWindow, 60*time.Second)
	def(&c.ResumeWindow, 2*time.Minute)
	def(&c.PresenceGrace, 10*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.CloseGrace, 2*time.Second)
	def(&c.RequestTimeout, 15*time.Second)
	def(&c.SweepInterval, time.Second)
	if c.PresenceGrace < 0 {
		c.PresenceGrace = 0
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 4096
	}
	if c.CommandLimit <= 0 {
		c.CommandLimit = 120
	}
	if c.QueueLimit <= 0 {
		c.QueueLimit = 4096
	}
	if c.FanoutQueue <= 0 {
		c.FanoutQueue = 1024
	}
	if c.ReplayLimit <= 0 {
		c.ReplayLimit = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}
