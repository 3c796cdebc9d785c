package actors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// Retry policy for grain calls. protoactor retries a call whose grain PID is
// not known yet (no topology, activation failed) or that met a dead letter
// or a timeout (the grain moved or passivated); its default waits i*i*50
// *nanoseconds* between tries, a busy loop. These waits grow from 20ms to
// 500ms, with jitter, within the call's deadline.
const (
	retryFirst = 20 * time.Millisecond
	retryMax   = 500 * time.Millisecond
	// retryCount is high on purpose: the deadline is what ends a call.
	retryCount = 100
)

// callOptions maps a deadline onto protoactor's call options (generated
// clients take no context).
func callOptions(deadline time.Time) []pcluster.GrainCallOption {
	return []pcluster.GrainCallOption{
		pcluster.WithTimeout(time.Until(deadline)),
		pcluster.WithRetryCount(retryCount),
		pcluster.WithRetryAction(func(i int) int {
			wait := min(retryFirst<<min(i, 10), retryMax)
			wait = wait/2 + rand.N(wait/2+1) // jitter: 50–100%
			if left := time.Until(deadline); wait > left {
				wait = left
			}
			if wait > 0 {
				time.Sleep(wait)
			}
			return i + 1
		}),
	}
}

// call runs fn, a generated client call, under ctx: its deadline (capped by
// RequestTimeout) becomes the call's timeout, and the caller is released as
// soon as ctx ends even though the generated call cannot be interrupted (it
// finishes on its own by the same deadline).
func call[T any](ctx context.Context, s *System, fn func(opts ...pcluster.GrainCallOption) (T, error)) (T, error) {
	var zero T
	if s.stopped.Load() {
		return zero, fmt.Errorf("%w: actor system stopped", ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(callOptions(deadline)...)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return zero, grainError(r.err)
		}
		return r.v, nil
	case <-ctx.Done():
		return zero, fmt.Errorf("%w: %w", ErrUnavailable, ctx.Err())
	}
}
