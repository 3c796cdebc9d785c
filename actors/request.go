package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/proto/guildpb"
)

// request sends msg, a grain's own proto message, to the grain kind/identity
// and waits for its answer, under ctx (its deadline capped by
// RequestTimeout). It is the hot path's replacement of protoactor's
// cluster.Request, which the generated clients use: those marshal the
// message into a GrainRequest even for a local grain, set up a future with
// three timers (two contexts and the future's own) per call, and cannot be
// interrupted by ctx, so call wraps them in a goroutine. request instead
// takes a registered reply process from a pool, waits on its channel
// together with ctx and one pooled timer, and sends the message itself: a
// local grain gets the pointer (nothing is encoded), a remote one gets it
// serialized once by remoting. The grains take these messages in
// ReceiveDefault.
//
// Retries follow callOptions' policy: a grain whose PID is not known yet, or
// whose activation turned out to be gone (a dead letter) or fenced out by a
// newer owner (statusFenced), is looked up again after 20–500 ms, until the
// deadline.
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

	for try := 0; ; try++ {
		pid := s.grainPID(kind, identity)
		if pid != nil {
			rp := s.replies.get(s.actors)
			s.actors.Root.RequestWithCustomSender(pid, msg, rp.pid)
			var res any
			select {
			case res = <-rp.ch:
			case <-ctx.Done():
				s.replies.discard(s.actors, rp)
				return nil, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
			case <-timer.C:
				s.replies.discard(s.actors, rp)
				return nil, fmt.Errorf("%w: %s %s did not answer in time", ErrUnavailable, kind, identity)
			}
			if _, dead := res.(*actor.DeadLetterResponse); dead {
				s.replies.discard(s.actors, rp)
			} else {
				// The grain answered, once: nothing else will come to rp.
				s.replies.put(s.actors, rp)
				if !fencedOut(res) {
					return res, nil
				}
			}
			// The activation is gone (passivated, moved) or stopping
			// because a newer one owns the identity (fenced out, having
			// done nothing): forget it and look the identity up again. A
			// dead letter or a fenced-out answer does not say whose it is:
			// of a call a guild grain hands on to a channel grain, it may
			// be the channel grain's, which the guild grain must not be
			// shown again.
			s.cluster.PidCache.RemoveByValue(identity, kind, pid)
			if gc, ok := msg.(*guildpb.GuildCall); ok && gc.GetThen() != nil {
				s.cluster.PidCache.Remove(strconv.FormatInt(gc.GetThen().GetChannelId(), 10), channelKind)
			}
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
// the DeadLetterResponse protoactor sends back when the target is gone.
// Answers carry no request id, so a process serves another request only
// after it got its answer (a grain answers a request once); one whose
// request gave up is unregistered and dropped, and an answer arriving late
// lands in its buffer and is dropped with it.
type replyProcess struct {
	ch  chan any // capacity 1
	pid *actor.PID
}

// replyPool keeps registered reply processes for reuse: registering one
// per request (a sharded map insert and delete) was a visible part of a
// grain call's cost.
type replyPool struct {
	free chan *replyProcess
}

func newReplyPool(size int) replyPool { return replyPool{free: make(chan *replyProcess, size)} }

func (p replyPool) get(sys *actor.ActorSystem) *replyProcess {
	select {
	case rp := <-p.free:
		return rp
	default:
	}
	rp := &replyProcess{ch: make(chan any, 1)}
	rp.pid, _ = sys.ProcessRegistry.Add(rp, "reply"+sys.ProcessRegistry.NextId())
	return rp
}

// put returns a process whose answer was taken.
func (p replyPool) put(sys *actor.ActorSystem, rp *replyProcess) {
	select {
	case p.free <- rp:
	default:
		sys.ProcessRegistry.Remove(rp.pid)
	}
}

// discard drops a process that may still get a late answer.
func (replyPool) discard(sys *actor.ActorSystem, rp *replyProcess) {
	sys.ProcessRegistry.Remove(rp.pid)
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
