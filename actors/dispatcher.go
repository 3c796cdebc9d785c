package actors

import (
	"sync"

	"github.com/asynkron/protoactor-go/actor"
)

// workerDispatcher runs grain mailboxes on a few long-lived goroutines.
// protoactor's default dispatcher starts a goroutine every time a mailbox
// gets messages; on the message path that is several per message, each
// starting with a small stack that grows (copies) through protoactor's,
// protobuf's and JSON's deep call chains — measured at 9–12% of the REST
// benchmark's CPU. A worker keeps its grown stack from one mailbox run to
// the next.
//
// A mailbox run goes to an idle worker if there is one, and otherwise to a
// new goroutine, exactly as before: a grain blocked in a store call never
// holds up other grains.
type workerDispatcher struct {
	throughput int
	work       chan func() // unbuffered: a handoff succeeds only to a waiting worker
	quit       chan struct{}
	wg         sync.WaitGroup
	stopOnce   sync.Once
}

var _ actor.Dispatcher = (*workerDispatcher)(nil)

// newWorkerDispatcher starts workers goroutines; throughput is how many
// messages a mailbox processes before yielding (protoactor's default is
// 300). Stop them with stop.
func newWorkerDispatcher(workers, throughput int) *workerDispatcher {
	d := &workerDispatcher{throughput: throughput, work: make(chan func()), quit: make(chan struct{})}
	for range workers {
		d.wg.Go(func() {
			for {
				select {
				case fn := <-d.work:
					fn()
				case <-d.quit:
					return
				}
			}
		})
	}
	return d
}

func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go fn()
	}
}

func (d *workerDispatcher) Throughput() int { return d.throughput }

// stop ends the workers once they finish their current run; later runs get
// goroutines of their own. Idempotent.
func (d *workerDispatcher) stop() {
	d.stopOnce.Do(func() {
		close(d.quit)
		d.wg.Wait()
	})
}
