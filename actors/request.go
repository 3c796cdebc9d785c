package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// request sends msg, a grain's own proto message, to the grain kind/identity
// and waits for its answer, under ctx (its deadline capped by
// RequestTimeout). It is the hot path's replacement of protoactor's
// cluster.Request, which the generated clients use: those marshal the
// message into a GrainRequest even for a local grain, start a goroutine-free
// but timer-heavy future per call (two context timers and the future's own),
// and cannot be interrupted by ctx, so call wraps them in a goroutine.
// request instead registers one reply process per call, waits on its channel
// together with ctx and one timer, and sends the message itself: a local
// grain gets the pointer (nothing is encoded), a remote one gets it
// serialized once by remoting. The grains take these messages in
// ReceiveDefault.
//
// Retries follow callOptions' policy: a grain whose PID is not known yet, or
// whose activation turned out to be gone (a dead letter), is looked up again
// after 20–500 ms, until the deadline.
func (s *System) request(ctx context.Context, kind, identity string, msg any) (any, error) {
	if s.stopped.Load() {
		return nil, fmt.Errorf("%w: actor system stopped", ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	deadline := time.Now().Add(s.cfg.RequestTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	timer := timerPool.Get().(*time.Timer)
	timer.Reset(time.Until(deadline))
	defer func() {
		timer.Stop()
		timerPool.Put(timer)
	}()

	reg := s.actors.ProcessRegistry
	for try := 0; ; try++ {
		pid := s.grainPID(kind, identity)
		if pid != nil {
			rp := &replyProcess{ch: make(chan any, 1)}
			self, _ := reg.Add(rp, "reply"+reg.NextId())
			s.actors.Root.RequestWithCustomSender(pid, msg, self)
			var res any
			select {
			case res = <-rp.ch:
			case <-ctx.Done():
				reg.Remove(self)
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			case <-timer.C:
				reg.Remove(self)
				return nil, fmt.Errorf("%w: %s %s did not answer in time", ErrUnavailable, kind, identity)
			}
			reg.Remove(self)
			if _, dead := res.(*actor.DeadLetterResponse); !dead {
				return res, nil
			}
			// The activation is gone (passivated, moved): forget it and
			// look the identity up again.
			s.cluster.PidCache.RemoveByValue(identity, kind, pid)
		}
		wait := min(retryFirst<<min(try, 10), retryMax)
		wait = wait/2 + rand.N(wait/2+1) // jitter: 50–100%
		if left := time.Until(deadline); wait > left {
			wait = left
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
		case <-timer.C:
			return nil, fmt.Errorf("%w: no activation of %s %s answered in time", ErrUnavailable, kind, identity)
		}
	}
}

// grainPID is the PID of the activation of kind/identity, from the cluster's
// cache or its identity lookup (which activates the grain); nil when the
// topology has no member for it yet.
func (s *System) grainPID(kind, identity string) *actor.PID {
	if pid, ok := s.cluster.PidCache.Get(identity, kind); ok && pid != nil {
		return pid
	}
	pid := s.cluster.Get(identity, kind)
	if pid != nil {
		s.cluster.PidCache.Set(identity, kind, pid)
	}
	return pid
}

// timerPool recycles request timers; a stopped timer may be Reset (Go ≥
// 1.23 timers have no stale fires after Stop).
var timerPool = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// replyProcess receives the one answer to a request: the grain's reply, or
// the DeadLetterResponse protoactor sends back when the target is gone. It
// is registered under a fresh id per request; a reply arriving after the
// request gave up lands in its buffer and is dropped with it.
type replyProcess struct {
	ch chan any // capacity 1
}

var _ actor.Process = (*replyProcess)(nil)

func (p *replyProcess) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case p.ch <- msg:
	default:
	}
}

func (p *replyProcess) SendSystemMessage(_ *actor.PID, message any) {
	select {
	case p.ch <- message:
	default:
	}
}

func (p *replyProcess) Stop(*actor.PID) {}

// The grain kinds the hot path calls through request; the generated code
// registers them under these names.
const (
	channelKind = "Channel"
	guildKind   = "Guild"
)

// unexpectedReply maps an answer of the wrong type: a grain error, or a
// protocol mismatch between nodes.
func unexpectedReply(res any) error {
	if ge, ok := res.(*pcluster.GrainErrorResponse); ok {
		return grainError(ge)
	}
	return fmt.Errorf("%w: unexpected reply %T", ErrUnavailable, res)
}
