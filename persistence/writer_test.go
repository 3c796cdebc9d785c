package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/snowflake"
)

// startWriter runs a writer until the test ends.
func startWriter(t *testing.T, s *persistence.Store, cfg persistence.WriterConfig) *persistence.MessageWriter {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	w := persistence.NewMessageWriter(s, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// outcomes collects writer callbacks.
type outcomes struct {
	mu    sync.Mutex
	wg    sync.WaitGroup
	order map[int64][]int64 // channel → ids in callback order
	err   map[int64]error   // id → outcome
	calls map[int64]int
}

func newOutcomes() *outcomes {
	return &outcomes{order: map[int64][]int64{}, err: map[int64]error{}, calls: map[int64]int{}}
}

// submit submits m and records its outcome; it returns Submit's error.
func (o *outcomes) submit(w *persistence.MessageWriter, m persistence.Message, epoch int64) error {
	o.wg.Add(1)
	err := w.Submit(m, epoch, func(err error) {
		o.mu.Lock()
		o.order[m.ChannelID] = append(o.order[m.ChannelID], m.ID)
		o.err[m.ID] = err
		o.calls[m.ID]++
		o.mu.Unlock()
		o.wg.Done()
	})
	if err != nil {
		o.wg.Done()
	}
	return err
}

// wait waits for every outstanding callback, at most 10 s.
func (o *outcomes) wait(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writer callbacks missing after 10s")
	}
	for id, n := range o.calls {
		if n != 1 {
			t.Fatalf("callback of %d called %d times", id, n)
		}
	}
}

func (o *outcomes) acked() []int64 {
	var out []int64
	for id, err := range o.err {
		if err == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// storedIDs lists every stored message id.
func storedIDs(t *testing.T, s *persistence.Store) []int64 {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT id FROM messages ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriterCommitsInOrder(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	epochs := map[int64]int64{}
	for c := int64(1); c <= 10; c++ {
		epochs[c], _ = s.AcquireChannelEpoch(ctx, c)
		if _, err := s.Pool().Exec(ctx, `INSERT INTO channels (id, type) VALUES ($1, 0)`, c); err != nil {
			t.Fatal(err)
		}
	}
	w := startWriter(t, s, persistence.WriterConfig{MaxBatch: 64})
	o := newOutcomes()
	var want []int64
	for i := range 1000 {
		c := int64(i%10 + 1)
		if err := o.submit(w, msg(c, i, "m"), epochs[c]); err != nil {
			t.Fatal(err)
		}
		want = append(want, mid(i))
	}
	o.wait(t)
	if acked := o.acked(); !slices.Equal(acked, want) {
		t.Fatalf("%d of %d rows acked", len(acked), len(want))
	}
	for c, order := range o.order {
		if !slices.IsSorted(order) || len(order) != 100 {
			t.Fatalf("channel %d: %d callbacks, not in submission order", c, len(order))
		}
	}
	if got := storedIDs(t, s); !slices.Equal(got, want) {
		t.Fatalf("%d rows stored, want %d", len(got), len(want))
	}
	// last_message_id follows each channel's newest message.
	for c := int64(1); c <= 10; c++ {
		var last int64
		if err := s.Pool().QueryRow(ctx, `SELECT last_message_id FROM channels WHERE id = $1`, c).Scan(&last); err != nil || last != mid(990+int(c)-1) {
			t.Fatalf("channel %d last_message_id %d (%v), want %d", c, last, err, mid(990+int(c)-1))
		}
	}
}

// In a batch mixing guild and DM channels, every row commits and each DM
// channel's last_message_id moves to its newest message; guild channels
// keep none (nothing reads it: it is their greatest message id).
func TestWriterKeepsLastMessageOfDMs(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	epochs := map[int64]int64{}
	for c := int64(1); c <= 4; c++ {
		epochs[c], _ = s.AcquireChannelEpoch(ctx, c)
		if _, err := s.Pool().Exec(ctx, `INSERT INTO channels (id, type) VALUES ($1, 0)`, c); err != nil {
			t.Fatal(err)
		}
	}
	// Queued before Run starts, one lane: one batch.
	w := persistence.NewMessageWriter(s, persistence.WriterConfig{MaxDelay: time.Second, MaxBatch: 8, Lanes: 1, Logger: quiet})
	o := newOutcomes()
	for i := range 8 {
		c := int64(i%4 + 1)
		m := msg(c, i, "m")
		if c <= 2 {
			m.GuildID = 77 // channels 1 and 2 are a guild's, 3 and 4 DMs
		}
		if err := o.submit(w, m, epochs[c]); err != nil {
			t.Fatal(err)
		}
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(runCtx)
	o.wait(t)
	if acked := o.acked(); len(acked) != 8 {
		t.Fatalf("%d of 8 rows acked", len(acked))
	}
	for c, want := range map[int64]int64{1: 0, 2: 0, 3: mid(6), 4: mid(7)} {
		var last int64
		if err := s.Pool().QueryRow(ctx, `SELECT coalesce(last_message_id, 0) FROM channels WHERE id = $1`, c).Scan(&last); err != nil || last != want {
			t.Fatalf("channel %d last_message_id %d (%v), want %d", c, last, err, want)
		}
	}
}

func TestWriterFencesStaleEpochs(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	old, _ := s.AcquireChannelEpoch(ctx, 1)
	cur, _ := s.AcquireChannelEpoch(ctx, 1)
	other, _ := s.AcquireChannelEpoch(ctx, 2)
	for _, c := range []int64{1, 2} {
		if _, err := s.Pool().Exec(ctx, `INSERT INTO channels (id, type) VALUES ($1, 0)`, c); err != nil {
			t.Fatal(err)
		}
	}
	// Queued before Run starts, one lane, MaxBatch = the rows: one batch.
	w := persistence.NewMessageWriter(s, persistence.WriterConfig{MaxDelay: time.Second, MaxBatch: 4, Lanes: 1, Logger: quiet})
	o := newOutcomes()
	_ = o.submit(w, msg(1, 1, "old owner"), old)
	_ = o.submit(w, msg(2, 2, "other channel"), other)
	_ = o.submit(w, msg(1, 3, "new owner"), cur)
	_ = o.submit(w, msg(3, 4, "nobody's channel"), 1)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go w.Run(runCtx)
	o.wait(t)
	for id, want := range map[int64]error{mid(1): persistence.ErrFenced, mid(2): nil, mid(3): nil, mid(4): persistence.ErrFenced} {
		if got := o.err[id]; !errors.Is(got, want) || (want == nil && got != nil) {
			t.Errorf("row %d: %v, want %v", id, got, want)
		}
	}
	if got := storedIDs(t, s); !slices.Equal(got, mids(2, 3)) {
		t.Fatalf("stored %v, want %v", got, mids(2, 3))
	}
	// A fenced row does not move last_message_id either.
	var last int64
	if err := s.Pool().QueryRow(ctx, `SELECT last_message_id FROM channels WHERE id = 1`).Scan(&last); err != nil || last != mid(3) {
		t.Fatalf("last_message_id %d (%v)", last, err)
	}
}

// One row PostgreSQL refuses does not fail the rows batched with it.
func TestWriterIsolatesBadRows(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	far := persistence.Message{ID: int64(snowflake.FromTime(time.Now().AddDate(5, 0, 0))), ChannelID: 1, AuthorID: 1, Content: "from the future"}
	nul := msg(1, 5, "nul \x00 byte")
	var msgs []persistence.Message
	for i := range 10 {
		msgs = append(msgs, msg(1, i, "ok"))
	}
	msgs = slices.Insert(msgs, 3, far)
	msgs = slices.Insert(msgs, 8, nul)
	msgs = append(msgs, msg(1, 2, "duplicate id"))
	errs := submitAll(t, s, e, msgs...)
	var good []int64
	for i, m := range msgs {
		bad := i == 3 || i == 8 || i == len(msgs)-1
		switch {
		case bad && errs[i] == nil:
			t.Errorf("row %d (%q) committed", i, m.Content)
		case !bad && errs[i] != nil:
			t.Errorf("row %d failed with its batch: %v", i, errs[i])
		case !bad:
			good = append(good, m.ID)
		}
	}
	var pgErr *pgconn.PgError
	if !errors.As(errs[3], &pgErr) || pgErr.Code != "23514" {
		t.Errorf("row without a partition: %v", errs[3])
	}
	slices.Sort(good)
	if got := storedIDs(t, s); !slices.Equal(got, good) {
		t.Fatalf("stored %v, want %v", got, good)
	}
}

func TestWriterOverloaded(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	// Block the writer's fence: hold the owner row FOR UPDATE elsewhere.
	lock, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `SELECT 1 FROM channel_owners WHERE channel_id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, s, persistence.WriterConfig{QueueSize: 2, MaxBatch: 1, MaxDelay: -1, Lanes: 1})
	o := newOutcomes()
	var accepted []int64
	overloaded := false
	for i := 0; i < 50 && !overloaded; i++ {
		err := o.submit(w, msg(1, i, "m"), e)
		switch {
		case errors.Is(err, persistence.ErrOverloaded):
			overloaded = true
		case err != nil:
			t.Fatal(err)
		default:
			accepted = append(accepted, mid(i))
			time.Sleep(5 * time.Millisecond) // let the writer take the first row
		}
	}
	if !overloaded || len(accepted) > 3 {
		t.Fatalf("overloaded=%v after %d accepted rows, want ErrOverloaded after at most 3 (queue 2 + 1 in flight)", overloaded, len(accepted))
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	o.wait(t)
	if acked := o.acked(); !slices.Equal(acked, accepted) {
		t.Fatalf("acked %v, want the accepted %v", acked, accepted)
	}
	if got := storedIDs(t, s); !slices.Equal(got, accepted) {
		t.Fatalf("stored %v, want %v", got, accepted)
	}
}

func TestWriterDatabaseUnavailable(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	s, err := persistence.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.PrepareMessages(ctx); err != nil {
		t.Fatal(err)
	}
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	down, err := persistence.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	down.Close()
	w := startWriter(t, down, persistence.WriterConfig{MaxBatch: 8})
	o := newOutcomes()
	for i := range 20 {
		if err := o.submit(w, msg(1, i, "m"), e); err != nil {
			t.Fatal(err)
		}
	}
	o.wait(t)
	if len(o.err) != 20 || len(o.acked()) != 0 {
		t.Fatalf("%d outcomes, %d acked; want 20 errors", len(o.err), len(o.acked()))
	}
	if got := storedIDs(t, s); len(got) != 0 {
		t.Fatalf("%d rows stored", len(got))
	}
}

// Many submitters, a queue small enough to overflow, and an owner change in
// the middle: exactly the acknowledged rows are stored, each channel's
// outcomes arrive in submission order.
func TestWriterConcurrentSubmitters(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	const channels, perChannel = 16, 300
	epochs := make([]atomic.Int64, channels+1)
	for c := int64(1); c <= channels; c++ {
		e, _ := s.AcquireChannelEpoch(ctx, c)
		epochs[c].Store(e)
	}
	w := startWriter(t, s, persistence.WriterConfig{QueueSize: 64, MaxBatch: 32})
	o := newOutcomes()
	var overloaded atomic.Int64
	var wg sync.WaitGroup
	for c := int64(1); c <= channels; c++ {
		wg.Go(func() { // one "grain" per channel
			for i := range perChannel {
				m := msg(c, int(c)*10000+i, "m")
				if c == 1 && i == perChannel/2 {
					// Another activation takes channel 1 over; this one goes on writing.
					if _, err := s.AcquireChannelEpoch(ctx, 1); err != nil {
						t.Error(err)
					}
				}
				if err := o.submit(w, m, epochs[c].Load()); errors.Is(err, persistence.ErrOverloaded) {
					overloaded.Add(1)
					time.Sleep(time.Millisecond)
				} else if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	o.wait(t)
	acked := o.acked()
	if got := storedIDs(t, s); !slices.Equal(got, acked) {
		t.Fatalf("stored %d rows, acked %d: they must be the same set", len(got), len(acked))
	}
	fenced := 0
	for _, err := range o.err {
		if errors.Is(err, persistence.ErrFenced) {
			fenced++
		} else if err != nil {
			t.Fatalf("unexpected outcome: %v", err)
		}
	}
	for c, order := range o.order {
		if !slices.IsSorted(order) {
			t.Fatalf("channel %d outcomes out of order", c)
		}
	}
	if fenced == 0 || fenced > perChannel/2+100 { // rows queued before the takeover may be fenced too
		t.Fatalf("%d rows fenced, want channel 1's rows after the takeover", fenced)
	}
	t.Logf("%d acked, %d fenced, %d overloaded submits", len(acked), fenced, overloaded.Load())
}

func TestWriterShutdownFailsQueuedRows(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	lock, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `SELECT 1 FROM channel_owners WHERE channel_id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	w := persistence.NewMessageWriter(s, persistence.WriterConfig{MaxBatch: 1, MaxDelay: -1, Logger: quiet})
	runCtx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(runCtx) }()
	o := newOutcomes()
	if err := o.submit(w, msg(1, 0, "in flight"), e); err != nil {
		t.Fatal(err)
	}
	// Wait until the writer is blocked on the lock with the first row.
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		var waiting bool
		err := s.Pool().QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)`).Scan(&waiting)
		if err == nil && !waiting {
			err = errors.New("writer not blocked yet")
		}
		return err
	})
	for i := 1; i <= 5; i++ {
		if err := o.submit(w, msg(1, i, "queued"), e); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	time.Sleep(20 * time.Millisecond)
	_ = lock.Rollback(ctx)
	<-stopped
	o.wait(t)
	if err := o.err[mid(0)]; err != nil {
		t.Fatalf("the batch in flight at shutdown failed: %v", err)
	}
	for i := 1; i <= 5; i++ {
		if err := o.err[mid(i)]; !errors.Is(err, persistence.ErrWriterStopped) {
			t.Fatalf("queued row %d: %v, want ErrWriterStopped", i, err)
		}
	}
	if err := w.Submit(msg(1, 9, "late"), e, func(error) { t.Error("callback after a refused submit") }); !errors.Is(err, persistence.ErrWriterStopped) {
		t.Fatalf("submit after stop: %v", err)
	}
	if got := storedIDs(t, s); !slices.Equal(got, mids(0)) {
		t.Fatalf("stored %v", got)
	}
}

func TestWriterMetrics(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	reg := prometheus.NewRegistry()
	w := startWriter(t, s, persistence.WriterConfig{Metrics: reg})
	o := newOutcomes()
	for i := range 5 {
		_ = o.submit(w, msg(1, i, "m"), e)
	}
	_ = o.submit(w, msg(1, 5, "m"), e+1)
	o.wait(t)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			name := f.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			switch {
			case m.Counter != nil:
				got[name] = m.Counter.GetValue()
			case m.Histogram != nil:
				got[name] = float64(m.Histogram.GetSampleCount())
			case m.Gauge != nil:
				got[name] = m.Gauge.GetValue()
			}
		}
	}
	want := map[string]float64{
		"accord_message_writer_rows_total/committed": 5,
		"accord_message_writer_rows_total/fenced":    1,
		"accord_message_writer_queue_rows":           0,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if got["accord_message_writer_batch_rows"] < 1 || got["accord_message_writer_commit_seconds"] < 1 {
		t.Errorf("histograms empty: %v", fmt.Sprint(got))
	}
}
