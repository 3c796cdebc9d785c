package gateway

import (
	"runtime"
	"slices"
	"sync"
)

// The local fan-out runs on a few workers of the server's own, not in the
// caller's goroutine: a grain's Publish only splits the recipients and
// queues the event, so one channel's mailbox is not held for as long as
// delivering to every recipient takes, and deliveries use every core.
//
// Users (and so sessions) are partitioned among the workers by the same
// hash that shards the registry; each worker delivers its queue in order.
// Events one caller publishes therefore reach every session in the order
// they were published, from one goroutine, as before. A worker never waits
// on a socket: it queues frames on connections and, at the end of each
// batch of events, writes what each connection got without blocking (one
// writev for all of the batch's frames) or hands the rest to that
// connection's writer goroutine.
//
// A worker's queue is bounded. When it is full, Publish waits for room:
// the caller (a grain, the node actor) is slowed to the rate at which the
// node delivers, as when it delivered itself; the wait always ends, since
// workers never block on clients. A client that cannot keep up is not
// waited for: its connection's queue fills and it is closed with 4000
// (it resumes), as before.

// fanWorker is one fan-out worker: a queue of events with the recipients
// in its partition.
type fanWorker struct {
	s     *Server
	limit int // events queued at most

	mu      sync.Mutex // guards queue, spare, stopped
	room    *sync.Cond // signalled when the worker takes its queue
	queue   []fanItem
	spare   []fanItem
	stopped bool
	wake    chan struct{} // capacity 1: the queue is not empty

	// Owned by the worker goroutine.
	dirty  []*conn     // connections with frames queued by this batch
	events []*prepared // the run of events being delivered
	frames []outFrame  // a session's frames of the run

}

// fanItem is an event for some of a worker's users, or a barrier (done
// set, p nil), closed once everything queued before it is delivered.
type fanItem struct {
	p     *prepared
	users []int64
	done  chan struct{}
}

// fanout is the server's set of workers.
type fanout struct {
	workers []*fanWorker
}

func newFanout(s *Server) *fanout {
	n := s.cfg.FanoutWorkers
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	f := &fanout{workers: make([]*fanWorker, n)}
	for i := range f.workers {
		w := &fanWorker{s: s, limit: s.cfg.FanoutQueue, wake: make(chan struct{}, 1)}
		w.room = sync.NewCond(&w.mu)
		f.workers[i] = w
		s.spawn(w.run)
	}
	return f
}

// workerOf is the worker that delivers userID's events.
func (f *fanout) workerOf(userID int64) int {
	return userIndex(userID) % len(f.workers)
}

// publish queues p for its recipients, each to its user's worker.
func (f *fanout) publish(p *prepared) {
	// The users are copied: the caller may reuse its slice once Publish
	// returned.
	if len(f.workers) == 1 {
		f.workers[0].enqueue(fanItem{p: p, users: slices.Clone(p.ev.Recipients)})
		return
	}
	parts := make([][]int64, len(f.workers))
	per := len(p.ev.Recipients)/len(f.workers) + 8
	for _, uid := range p.ev.Recipients {
		i := f.workerOf(uid)
		if parts[i] == nil {
			parts[i] = make([]int64, 0, per)
		}
		parts[i] = append(parts[i], uid)
	}
	for i, users := range parts {
		if len(users) > 0 {
			f.workers[i].enqueue(fanItem{p: p, users: users})
		}
	}
}

// sync waits until userID's worker has delivered every event queued
// before the call (nothing when the server stopped).
func (f *fanout) sync(userID int64) {
	done := make(chan struct{})
	if f.workers[f.workerOf(userID)].enqueue(fanItem{done: done}) {
		<-done
	}
}

// syncAll is sync for every worker.
func (f *fanout) syncAll() {
	for _, w := range f.workers {
		done := make(chan struct{})
		if w.enqueue(fanItem{done: done}) {
			<-done
		}
	}
}

// enqueue adds it to the queue, waiting while the queue is full. It
// reports false, dropping it, once the server stopped.
func (w *fanWorker) enqueue(it fanItem) bool {
	w.mu.Lock()
	for len(w.queue) >= w.limit && !w.stopped {
		w.s.fanoutWaits.Add(1)
		w.room.Wait()
	}
	if w.stopped {
		w.mu.Unlock()
		return false
	}
	w.queue = append(w.queue, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true
}

// run delivers batches until the server shuts down.
func (w *fanWorker) run() {
	defer func() {
		w.mu.Lock()
		w.stopped = true
		for _, it := range w.queue {
			if it.done != nil {
				close(it.done)
			}
		}
		w.queue = nil
		w.room.Broadcast()
		w.mu.Unlock()
	}()
	done := w.s.ctx.Done()
	for {
		select {
		case <-done:
			return
		case <-w.wake:
		}
		for {
			w.mu.Lock()
			batch := w.queue
			w.queue, w.spare = w.spare[:0], nil
			w.room.Broadcast()
			w.mu.Unlock()
			if len(batch) == 0 {
				w.mu.Lock()
				w.spare = batch
				w.mu.Unlock()
				break
			}
			w.deliver(batch)
			clear(batch)
			w.mu.Lock()
			w.spare = batch[:0]
			w.mu.Unlock()
		}
	}
}

// deliver hands a batch's events to their sessions, then writes what the
// connections got, then releases the batch's barriers. Consecutive events
// for the same users (one channel's messages) go as a run: each session is
// locked once for all of them and its connection gets them in one append,
// which is most of the cost of a delivery (the session, its replay buffer
// and its connection are rarely in the CPU's cache).
func (w *fanWorker) deliver(batch []fanItem) {
	reg := w.s.sessions
	fn := func(ss *session) { ss.deliver(w.events, w) }
	for i := 0; i < len(batch); {
		it := &batch[i]
		i++
		if it.p == nil {
			continue
		}
		w.events = append(w.events[:0], it.p)
		for i < len(batch) && len(w.events) < maxRun {
			if next := &batch[i]; next.p == nil {
				i++ // a barrier waits for the whole batch anyway
			} else if slices.Equal(next.users, it.users) {
				w.events = append(w.events, next.p)
				i++
			} else {
				break
			}
		}
		for _, uid := range it.users {
			reg.ofUser(uid, fn)
		}
	}
	clear(w.events)
	w.events = w.events[:0]
	for i, c := range w.dirty {
		c.flush()
		w.dirty[i] = nil
	}
	w.dirty = w.dirty[:0]
	if cap(w.dirty) > 1<<16 {
		w.dirty = nil
	}
	for i := range batch {
		if batch[i].done != nil {
			close(batch[i].done)
		}
	}
}

// maxRun bounds the events delivered to a session under one lock.
const maxRun = 256
