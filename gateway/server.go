// Package gateway is Accord's WebSocket gateway: Discord's gateway protocol
// (API v9 and v10, JSON encoding, optional zlib-stream) over gobwas/ws.
//
// A Server upgrades requests to /gateway, speaks the protocol on each
// connection, keeps sessions for resuming, tracks presences, and implements
// actors.Fanout: the events grains emit reach every local session of their
// recipients, each event encoded once and only the per-session sequence
// number spliced in.
//
// Decisions where Discord leaves room:
//   - encoding other than json (etf) and compress other than zlib-stream are
//     refused at the upgrade with 400: the client cannot read what it would
//     get. A v other than 9 or 10 is closed with 4012 after Hello, as
//     Discord does; a missing v means 10.
//   - a connection silent for HeartbeatInterval + HeartbeatGrace is closed
//     with 4009 (clients resume after it).
//   - a slow reader, a draining node and any server-side failure close with
//     4000, which every client resumes after.
//   - a client's close frame (1000 included) leaves the session resumable:
//     discordgo closes with 1000 before it resumes.
//   - every session is sent READY with unavailable guilds then one
//     GUILD_CREATE per guild, as Discord does for bots (discord.js and
//     discordgo handle it for users too). Users may omit intents (they get
//     every event they are entitled to); bots must give them, and only
//     bots' content is gated by MESSAGE_CONTENT.
//
// Goroutines: a connection has a reader only while its client sends (or it
// closes) and a writer goroutine only while its socket does not take what
// is queued at once; in between it is parked with the server's poller
// (epoll, one-shot, Linux only), so an idle connection has no goroutine.
// The server has GOMAXPROCS fan-out workers (fanworker.go), which deliver
// published events and write them without blocking, a sweeper (which also
// times out parked connections' heartbeats), a presence worker and the
// poller. All stop in Shutdown. An idle identified connection's memory is
// its conn and session structs and kernel socket state: no read or write
// buffer (both are pooled per message or batch), and READY and the
// GUILD_CREATEs are not kept for resuming. BenchmarkGateway in cmd/accord
// measures it on a real node (README).
package gateway

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/accordchat/accord/actors"
)

// Server is the gateway of one node.
type Server struct {
	cfg      Config
	log      *slog.Logger
	sessions sessionStore
	presence *presences
	upgrader ws.HTTPUpgrader
	// poller parks idle connections; nil where there is none (not Linux).
	poller *poller

	mu       sync.Mutex // guards conns, stopped
	conns    map[*conn]struct{}
	stopped  bool
	draining atomic.Bool
	wg       sync.WaitGroup // every goroutine the server started or adopted
	// ctx ends in Shutdown: background work stops.
	ctx    context.Context
	cancel context.CancelFunc

	// fan delivers published events (fanworker.go).
	fan *fanout

	slowClosed  atomic.Int64 // connections closed for falling behind
	fanoutWaits atomic.Int64 // times Publish waited for a full fan-out queue
	// partialWrites counts flushes whose socket did not take everything.
	partialWrites atomic.Int64
	handedOver    atomic.Int64 // sessions handed over to other nodes
}

// New builds a Server and starts its background goroutines; Shutdown stops
// them.
func New(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		sessions: newRegistry(),
		conns:    make(map[*conn]struct{}),
		upgrader: ws.HTTPUpgrader{Timeout: cfg.WriteTimeout},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.presence = newPresences(s)
	if p, err := newPoller(); err == nil {
		s.poller = p
		s.spawn(func() { p.run(s.ctx.Done(), s.log) })
	}
	s.fan = newFanout(s)
	s.spawn(s.sweep)
	s.spawn(s.presence.run)
	return s
}

// spawn runs fn in a goroutine the server waits for in Shutdown.
func (s *Server) spawn(fn func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// ServeHTTP upgrades a gateway request and serves the connection until it
// ends.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if enc := q.Get("encoding"); enc != "" && enc != "json" {
		http.Error(w, "encoding "+strconv.Quote(enc)+" is not supported; use json", http.StatusBadRequest)
		return
	}
	zlibStream := false
	switch cmp := q.Get("compress"); cmp {
	case "":
	case "zlib-stream":
		zlibStream = true
	default:
		http.Error(w, "compress "+strconv.Quote(cmp)+" is not supported; use zlib-stream or none", http.StatusBadRequest)
		return
	}
	v, badVersion := 10, false
	if raw := q.Get("v"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || (n != 9 && n != 10) {
			badVersion = true
		} else {
			v = n
		}
	}
	s.mu.Lock()
	if s.stopped || s.draining.Load() {
		s.mu.Unlock()
		http.Error(w, "this node is draining; connect to another", http.StatusServiceUnavailable)
		return
	}
	s.wg.Add(1) // the connection's reader, below
	s.mu.Unlock()

	nc, rw, _, err := s.upgrader.Upgrade(r, w)
	if err != nil {
		s.wg.Done()
		if nc != nil {
			_ = nc.Close()
		}
		return
	}
	// Client commands are rare: read them straight from the socket, so an
	// idle connection keeps no read buffer (only bytes the client sent
	// along with the handshake are kept).
	var early []byte
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		early = bytes.Clone(b)
	}
	c := newConn(s, nc, early)
	c.v, c.zlib, c.badVersion = v, zlibStream, badVersion
	c.url = s.publicURL(r)
	if !s.track(c) {
		s.wg.Done()
		_ = nc.Close()
		return
	}
	// The reader runs in its own goroutine and the handler returns, so
	// that net/http frees what it keeps per request (its buffers, the
	// request, the response) instead of holding it for the connection's
	// life. The connection's last reader calls s.wg.Done.
	go c.serve()
}

// publicURL is the gateway's URL for resume_gateway_url.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return URLFor(r)
}

// URLFor derives the gateway URL from a request to this node: ws:// or
// wss:// (TLS or X-Forwarded-Proto https), its Host, /gateway.
func URLFor(r *http.Request) string {
	scheme := "ws"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + "/gateway"
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// liveConns lists the open connections.
func (s *Server) liveConns() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Connections counts the open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Drain tells every client to reconnect elsewhere (op 7), refuses new
// connections, and waits until the clients have gone or ctx ends, closing
// the rest with 4000. In a cluster it then waits, within ctx, for the
// sessions to be resumed on other nodes, which take them over with every
// dispatch they missed.
func (s *Server) Drain(ctx context.Context) {
	s.draining.Store(true)
	for _, c := range s.liveConns() {
		c.send(outFrame{body: payloadReconnect})
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for s.Connections() > 0 {
		select {
		case <-ctx.Done():
			for _, c := range s.liveConns() {
				c.close(ErrUnknown)
			}
			return
		case <-tick.C:
		}
	}
	if s.cfg.Cluster == nil || !s.cfg.Cluster.HasPeers() {
		return
	}
	for s.sessions.len() > 0 {
		select {
		case <-ctx.Done():
			s.log.Info("gateway: drained with sessions not taken over", slog.Int("sessions", s.sessions.len()))
			return
		case <-tick.C:
		}
	}
}

// Shutdown closes every connection (op 7, then close 4000: clients resume
// elsewhere), waits a close grace for them to go, and stops the server's
// goroutines; ctx bounds it all. Call Drain first for a gentler exit. It is
// idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	for _, c := range s.liveConns() {
		c.send(outFrame{body: payloadReconnect})
		c.close(ErrUnknown)
	}
	grace, cancel := context.WithTimeout(ctx, s.cfg.CloseGrace)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.Connections() > 0 && grace.Err() == nil {
		select {
		case <-grace.Done():
		case <-tick.C:
		}
	}
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	s.cancel()
	for _, c := range s.liveConns() {
		c.kill()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errors.New("gateway: shutdown: goroutines still running")
	}
}

// sweep removes sessions whose resume window passed and applies presences
// whose grace passed.
func (s *Server) sweep() {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			s.expireSessions(now)
			s.presence.due(now)
			s.closeSilent(now)
		}
	}
}

// closeSilent closes parked connections silent past the heartbeat timeout
// with 4009 (a running reader has a read deadline instead).
func (s *Server) closeSilent(now time.Time) {
	if s.poller == nil {
		return
	}
	for _, c := range s.liveConns() {
		if c.heartbeatOverdue(now) {
			c.close(ErrSessionTimedOut)
		}
	}
}

func (s *Server) expireSessions(now time.Time) {
	var expired []*session
	s.sessions.each(func(ss *session) {
		ss.mu.Lock()
		if ss.conn == nil && !ss.loading && !ss.detachedAt.IsZero() && now.Sub(ss.detachedAt) >= s.cfg.ResumeWindow {
			expired = append(expired, ss)
		}
		ss.mu.Unlock()
	})
	for _, ss := range expired {
		s.removeSession(ss)
	}
}

// sessionTag begins the session ids this node issues.
func (s *Server) sessionTag() string {
	if s.cfg.Cluster == nil {
		return ""
	}
	return s.cfg.Cluster.SessionTag()
}

// addSession registers ss; once it returns, events for its user from every
// node reach it.
func (s *Server) addSession(ctx context.Context, ss *session) {
	s.sessions.add(ss)
	if s.cfg.Cluster != nil {
		// A connected session's presence travels with its route, so that
		// the GUILD_CREATEs of its Identify list it on every node.
		var p actors.UserPresence
		ss.mu.Lock()
		if ss.conn != nil {
			p = actors.UserPresence{Status: ss.presence.status, Activities: ss.presence.activities, At: ss.presence.at}
		}
		ss.mu.Unlock()
		s.cfg.Cluster.Attach(ctx, ss.userID, p)
	}
}

// removeSession ends ss: it can no longer be resumed.
func (s *Server) removeSession(ss *session) {
	ss.mu.Lock()
	was := ss.removed
	ss.removed = true
	ss.replay = replayRing{}
	ss.pending = nil
	ss.mu.Unlock()
	if was {
		return
	}
	s.sessions.remove(ss)
	if s.cfg.Cluster != nil {
		s.cfg.Cluster.Detach(ss.userID)
	}
}

// publish delivers an event the gateway itself emits, cluster-wide.
func (s *Server) publish(ev actors.Event) {
	if s.cfg.Cluster != nil {
		s.cfg.Cluster.Publish(ev)
		return
	}
	s.Publish(ev)
}
