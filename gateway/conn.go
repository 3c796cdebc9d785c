package gateway

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// conn is one WebSocket connection. A reader goroutine runs while the
// client sends (or the connection closes), a writer goroutine only while
// frames are queued: an idle connection is parked with the server's poller
// and has no goroutine at all (on Linux; elsewhere it keeps its reader).
type conn struct {
	srv   *Server
	nc    net.Conn
	br    io.Reader     // the socket, after any bytes that came with the handshake
	early *bytes.Reader // those bytes, while some are unread; nil if none came
	fr    *frameReader
	v     int    // the API version asked for (9 or 10)
	zlib  bool   // compress=zlib-stream
	url   string // resume_gateway_url
	// badVersion: v was neither 9 nor 10; closed with 4012 after Hello.
	badVersion bool

	// Owned by the running reader goroutine (handed from one to the next
	// through mu when the connection parks).
	sess        *session // set by Identify or Resume
	lastBeat    time.Time
	windowStart time.Time
	commands    int

	mu sync.Mutex // guards everything below
	// idle is signalled when the writer goroutine stops.
	idle  *sync.Cond
	queue []outFrame
	spare []outFrame
	// writing: a writer runs (a writer goroutine, or a fan-out worker's
	// non-blocking flush); only the writer touches the socket's output.
	writing bool
	// batched: a fan-out worker queued frames and will flush them.
	batched bool
	// partial is what a non-blocking flush could not write, for the writer
	// goroutine to send first.
	partial    []byte
	closing    bool   // a close frame is queued: nothing more is
	closeFrame []byte // the close frame, until the writer sends it
	dead       bool   // the socket is closed: no writer may start
	// readLimit ends reading once a close frame went out.
	readLimit time.Time
	// parked: no reader runs; the poller or a close starts one.
	parked bool
	poll   pollState

	// Owned by the (single) running writer.
	zw   *zlib.Writer
	zbuf *bytes.Buffer
	// raw writes without blocking (flush); nil: not a socket, always use
	// the writer goroutine.
	raw syscall.RawConn
}

func newConn(srv *Server, nc net.Conn, early []byte) *conn {
	c := &conn{srv: srv, nc: nc, br: nc, lastBeat: time.Now()}
	if len(early) > 0 {
		c.early = bytes.NewReader(early)
		c.br = io.MultiReader(c.early, nc)
	}
	if sc, ok := nc.(syscall.Conn); ok && canWritev {
		if rc, err := sc.SyscallConn(); err == nil {
			c.raw = rc
		}
	}
	br := c.br
	c.idle = sync.NewCond(&c.mu)
	c.fr = newFrameReader(br, srv.cfg.MaxPayload)
	return c
}

// send queues f. It reports false when the connection is closing; a
// connection over its queue limit is closed with 4000 (it resumes).
func (c *conn) send(f outFrame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.dead {
		return false
	}
	if len(c.queue) >= c.srv.cfg.QueueLimit {
		c.srv.slowClosed.Add(1)
		c.closeLocked(ErrUnknown, false)
		return false
	}
	c.queue = append(c.queue, f)
	c.startWriterLocked()
	return true
}

// sendBatched is send for a fan-out worker: the frames wait for w's flush
// at the end of its batch instead of starting a writer at once.
func (c *conn) sendBatched(frames []outFrame, w *fanWorker) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.dead {
		return
	}
	if len(c.queue)+len(frames) > c.srv.cfg.QueueLimit {
		c.srv.slowClosed.Add(1)
		c.closeLocked(ErrUnknown, false)
		return
	}
	c.queue = append(c.queue, frames...)
	if !c.writing && !c.batched {
		c.batched = true
		w.dirty = append(w.dirty, c)
	}
}

// sendAll queues frames regardless of the queue limit (a resume's replay).
func (c *conn) sendAll(frames []outFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.dead {
		return
	}
	c.queue = append(c.queue, frames...)
	c.startWriterLocked()
}

func (c *conn) startWriterLocked() {
	if !c.writing && !c.dead {
		c.writing = true
		c.srv.spawn(c.writeLoop)
	}
}

// close queues a close frame with ce's code after what is queued, and stops
// queueing. The reader stops once the peer closes or CloseGrace passes.
func (c *conn) close(ce *CloseError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(ce, true)
}

// closeLocked queues the close frame; without flush, what is queued is
// dropped first (a slow reader: the session keeps it for the resume). c.mu
// held.
func (c *conn) closeLocked(ce *CloseError, flush bool) {
	if c.closing || c.dead {
		return
	}
	c.closing = true
	if !flush {
		clear(c.queue)
		c.queue = c.queue[:0]
		// A writer stuck on the slow reader gives up soon.
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.CloseGrace))
	}
	p := closeFramePayload(ce.Code, ce.Reason)
	c.closeFrame = append(appendFrameHeader(nil, ws.OpClose, len(p)), p...)
	c.startWriterLocked()
	// A parked connection needs its reader back to see the close through.
	c.wakeLocked()
}

// wakeLocked starts a reader for a parked connection. c.mu held.
func (c *conn) wakeLocked() {
	if c.parked {
		c.parked = false
		go c.readLoop()
	}
}

// ready is the poller's news that the socket is readable (or closed).
func (c *conn) ready(id uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.poll.id == id {
		c.wakeLocked()
	}
}

// park hands an idle connection to the poller; the reader goroutine
// returns when it reports true. It declines while bytes wait in user space
// (handshake leftovers, a fragmented message) or the connection closes.
func (c *conn) park() bool {
	p := c.srv.poller
	if p == nil || c.fr.fragOp != 0 || c.fr.msg != nil || (c.early != nil && c.early.Len() > 0) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.dead {
		return false
	}
	if err := p.arm(c); err != nil {
		c.srv.log.Debug("gateway: parking failed; the reader stays", slog.Any("error", err))
		return false
	}
	c.parked = true
	return true
}

// kill closes the socket at once (Shutdown's last resort); the reader, woken
// if parked, cleans up.
func (c *conn) kill() {
	c.mu.Lock()
	c.dead = true
	c.wakeLocked()
	c.mu.Unlock()
	_ = c.nc.Close()
}

// heartbeatOverdue reports whether a parked connection was silent past
// the heartbeat timeout (a running reader has a read deadline instead).
func (c *conn) heartbeatOverdue(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.parked && now.Sub(c.lastBeat) > c.srv.cfg.HeartbeatInterval+c.srv.cfg.HeartbeatGrace
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing || c.dead
}

// writeFailed ends a connection whose socket cannot be written: closing it
// wakes the reader, which cleans up.
func (c *conn) writeFailed(err error) {
	c.mu.Lock()
	c.dead = true
	c.wakeLocked()
	c.mu.Unlock()
	if !errors.Is(err, net.ErrClosed) {
		c.srv.log.Debug("gateway write failed", slog.Any("error", err))
	}
	_ = c.nc.Close()
}

// setReadDeadline arms the heartbeat timeout, or the close grace once a
// close frame went out.
func (c *conn) setReadDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.lastBeat.Add(c.srv.cfg.HeartbeatInterval + c.srv.cfg.HeartbeatGrace)
	if !c.readLimit.IsZero() {
		d = c.readLimit
	}
	_ = c.nc.SetReadDeadline(d)
}

// serve is the first reader: Hello, then commands until the connection
// parks or ends. The server counted the connection in its WaitGroup; the
// reader that cleans up releases it.
func (c *conn) serve() {
	c.send(outFrame{body: helloPayload(c.srv.cfg.HeartbeatInterval.Milliseconds())})
	if c.badVersion {
		c.close(ErrInvalidAPIVersion)
		c.drain()
		c.finish()
		return
	}
	c.readLoop()
}

// readLoop reads until the connection parks or ends.
func (c *conn) readLoop() {
	if !c.read() {
		c.finish()
	}
}

// finish cleans up after the last reader.
func (c *conn) finish() {
	c.cleanup()
	c.srv.wg.Done()
}

// read handles commands until the connection ends (false) or parks (true).
func (c *conn) read() (parked bool) {
	for {
		c.setReadDeadline()
		op, p, err := c.fr.next()
		if err != nil {
			var ne net.Error
			switch {
			case c.isClosing():
			case errors.Is(err, errTooLarge), errors.Is(err, errProtocol):
				c.close(ErrDecode)
			case errors.As(err, &ne) && ne.Timeout():
				c.close(ErrSessionTimedOut)
			default:
				return false // the peer went away
			}
			c.drain()
			return false
		}
		if c.isClosing() {
			c.drain()
			return false
		}
		switch op {
		case ws.OpPing:
			c.send(outFrame{op: ws.OpPong, body: bytes.Clone(p)})
		case ws.OpClose:
			// Answer with the peer's code and let it close the TCP
			// connection. The session stays resumable (discordgo closes
			// with 1000 before it resumes).
			code := 1000
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			if code == 1005 || code == 1006 || code == 1015 || code < 1000 {
				code = 1000
			}
			// Both sides sent theirs: the connection ends once the
			// answer is written (cleanup waits for the writer).
			c.close(&CloseError{Code: code})
			return false
		case ws.OpText:
			err = c.handle(p)
		case ws.OpBinary:
			err = ErrDecode
		}
		c.fr.release()
		if err != nil {
			ce := closeOf(err)
			if ce == ErrUnknown {
				c.srv.log.Warn("gateway command failed", slog.Any("error", err))
			}
			c.close(ce)
			c.drain()
			return false
		}
		if c.park() {
			return true
		}
	}
}

// drain reads what the peer still sends, ignoring it, until the peer
// answers our close frame or closes, or the close grace passes: closing the
// socket with unread bytes would reset it before the peer read our close
// frame.
func (c *conn) drain() {
	c.fr.release()
	c.mu.Lock()
	if c.readLimit.IsZero() {
		// The close frame may wait behind the queue: bound the wait.
		c.readLimit = time.Now().Add(c.srv.cfg.WriteTimeout + c.srv.cfg.CloseGrace)
	}
	c.mu.Unlock()
	c.setReadDeadline()
	if n := c.fr.skip; n > 0 {
		c.fr.skip = 0
		if _, err := io.CopyN(io.Discard, c.br, n); err != nil {
			return
		}
	}
	for {
		op, _, err := c.fr.next()
		c.fr.release()
		switch {
		case err == nil && op == ws.OpClose:
			return
		case errors.Is(err, errTooLarge), errors.Is(err, errProtocol):
			_, _ = io.Copy(io.Discard, c.br)
			return
		case err != nil:
			return
		}
	}
}

// cleanup runs when the reader ends: the session loses its connection (and
// stays resumable), the socket closes, the writer stops.
func (c *conn) cleanup() {
	// The writer finishes first (a close frame goes out); its writes are
	// bounded by their deadlines.
	c.mu.Lock()
	c.dead = true
	for c.writing {
		c.idle.Wait()
	}
	clear(c.queue)
	c.queue, c.spare, c.partial = nil, nil, nil
	if c.srv.poller != nil {
		c.srv.poller.forget(c)
	}
	c.mu.Unlock()
	_ = c.nc.Close()
	c.fr.release()
	if ss := c.sess; ss != nil && ss.detach(c, time.Now()) {
		c.srv.presence.changed(ss.userID)
	}
	c.srv.untrack(c)
}

// allow counts a command against the rate limit.
func (c *conn) allow(now time.Time) bool {
	if now.Sub(c.windowStart) >= c.srv.cfg.CommandWindow {
		c.windowStart, c.commands = now, 0
	}
	c.commands++
	return c.commands <= c.srv.cfg.CommandLimit
}

// handle runs one command. A returned error closes the connection.
func (c *conn) handle(p []byte) error {
	now := time.Now()
	if !c.allow(now) {
		return ErrRateLimited
	}
	cmd, err := parseCommand(p)
	if err != nil {
		return err
	}
	switch cmd.Op {
	case opHeartbeat:
		c.mu.Lock()
		c.lastBeat = now
		c.mu.Unlock()
		c.send(outFrame{body: payloadHeartbeatACK})
		return nil
	case opIdentify:
		if c.sess != nil {
			return ErrAlreadyAuthenticated
		}
		return c.identify(cmd.D)
	case opResume:
		if c.sess != nil {
			return ErrAlreadyAuthenticated
		}
		return c.resume(cmd.D)
	case opPresenceUpdate, opVoiceStateUpdate, opRequestGuildMembers:
		if c.sess == nil {
			return ErrNotAuthenticated
		}
		switch cmd.Op {
		case opPresenceUpdate:
			return c.updatePresence(cmd.D)
		case opRequestGuildMembers:
			return c.requestMembers(cmd.D)
		}
		// Voice State Update: Accord has no voice; accepted and ignored.
		return nil
	}
	return ErrUnknownOpcode
}
