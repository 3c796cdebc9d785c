//go:build linux

package gateway

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
)

// poller parks idle connections so that they hold no goroutine: a reader
// with nothing to read registers its socket with an epoll instance of the
// server's own (one-shot) and returns; when the socket becomes readable, or
// the server closes the connection, a new reader goroutine picks it up
// where the last one stopped. Go's own netpoller keeps serving the reads
// themselves; this epoll set only says when to start a reader.
type poller struct {
	epfd   int
	nextID atomic.Uint32

	mu    sync.Mutex // guards conns
	conns map[int32]*conn
}

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &poller{epfd: fd, conns: make(map[int32]*conn)}, nil
}

// pollState is a connection's registration with the poller. Guarded by the
// connection's mu.
type pollState struct {
	fd         int32
	id         uint32 // tells a reused descriptor's events from ours
	registered bool
}

// arm registers c's socket for one readiness event. c.mu held; c.nc is open
// (c.dead is false), and RawConn.Control keeps the descriptor from closing
// meanwhile.
func (p *poller) arm(c *conn) error {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return errors.New("gateway: socket has no descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		ps := &c.poll
		op := syscall.EPOLL_CTL_MOD
		if !ps.registered {
			op = syscall.EPOLL_CTL_ADD
			ps.fd, ps.id = int32(fd), p.nextID.Add(1)
			p.mu.Lock()
			p.conns[ps.fd] = c
			p.mu.Unlock()
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: ps.fd, Pad: int32(ps.id)}
		if ctlErr = syscall.EpollCtl(p.epfd, op, int(fd), &ev); ctlErr == nil {
			ps.registered = true
		}
	})
	if err != nil {
		return err
	}
	return ctlErr
}

// forget drops c from the poller before its socket closes. c.mu held.
func (p *poller) forget(c *conn) {
	if !c.poll.registered {
		return
	}
	p.mu.Lock()
	if p.conns[c.poll.fd] == c {
		delete(p.conns, c.poll.fd)
	}
	p.mu.Unlock()
	c.poll.registered = false
}

// run waits for readiness until stop is closed; then it closes the epoll
// instance.
func (p *poller) run(stop <-chan struct{}, log *slog.Logger) {
	defer func() { _ = syscall.Close(p.epfd) }()
	events := make([]syscall.EpollEvent, 256)
	for {
		select {
		case <-stop:
			return
		default:
		}
		n, err := syscall.EpollWait(p.epfd, events, 100)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			log.Error("gateway: epoll_wait failed; idle connections keep their readers", slog.Any("error", err))
			return
		}
		for i := range n {
			ev := &events[i]
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				c.ready(uint32(ev.Pad))
			}
		}
	}
}
