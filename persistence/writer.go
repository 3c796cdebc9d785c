package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors of the message writer.
var (
	// ErrOverloaded is Submit's answer when the writer's queue is full: the
	// row was not accepted. Callers answer 503 with Retry-After.
	ErrOverloaded = errors.New("persistence: message writer overloaded")
	// ErrWriterStopped is the outcome of a row that was queued when the
	// writer stopped, and Submit's answer afterwards: the row was not written.
	ErrWriterStopped = errors.New("persistence: message writer stopped; message not written")
	// ErrOutcomeUnknown is the outcome of a row whose batch lost its
	// connection while committing when the writer could not find out, within
	// a few seconds, whether the commit happened. The row may or may not be
	// stored.
	ErrOutcomeUnknown = errors.New("persistence: message commit outcome unknown")
)

// WriterConfig configures a MessageWriter. Zero fields take the defaults.
type WriterConfig struct {
	// MaxBatch is the most rows one transaction writes; default 512.
	MaxBatch int
	// MaxDelay is how long a batch may wait to fill while another batch is
	// in flight, counted from the submission of its first row; default
	// 1ms, negative for none. An idle writer starts a batch at once, and a
	// batch always takes the rows that arrive while the batch before it
	// fences and writes (it could not start sooner): batches are one row
	// when the writer is idle and grow with the load (group commit).
	MaxDelay time.Duration
	// QueueSize is how many submitted rows may wait; beyond it Submit fails
	// with ErrOverloaded. Default 16384.
	QueueSize int
	// Lanes is how many batches may be in flight at once, each on its own
	// connection (see MessageWriter for their order). Default 2: while one
	// batch commits and reports, the next fences and writes.
	//
	// Measured with the REST load of rest/bench_test.go (100 senders waiting
	// for their acks, 2 cores shared with PostgreSQL and other work), in
	// alternating runs: the earlier design, two lanes by channel each
	// waiting 1ms for its batch to fill, made batches of ~23 rows at 19-23
	// µs of PostgreSQL CPU per message; this pipeline, 2 deep with 1ms,
	// 15-19 µs at the same rate (within the noise); one batch at a time
	// without a wait, ~40-row batches at 14-17 µs, but its round trips in
	// series cost messages per second whenever the machine was not
	// saturated; 2 deep without the wait, 17-21 µs. With the writer alone
	// (Submit from 100 goroutines, 200µs between an ack and the next row)
	// the no-wait settings move ~40% more rows per second: MaxDelay only
	// pays when senders take longer than a commit to come back.
	Lanes int
	// Logger receives batch failures; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when set, gets the writer's metrics: batch sizes, commit
	// latency, rows by outcome, queue depth.
	Metrics prometheus.Registerer
}

const (
	// writerCommitTimeout bounds one batch's transaction. The batch then
	// fails (definitely: its COMMIT was never sent) and the writer goes on.
	writerCommitTimeout = 10 * time.Second
	// writerResolveTimeout bounds the search for the outcome of a batch whose
	// connection failed during COMMIT.
	writerResolveTimeout = 5 * time.Second
)

// emptyIDs stands in for nil id lists, which would be written as NULL.
// Never modified.
var emptyIDs = []int64{}

// MessageWriter is a node's group-commit writer of new messages. Channel
// grains Submit rows; the writer commits them in batches, one transaction per
// batch, fenced by each channel's owner epoch, and reports every row's outcome
// once, in submission order for each channel.
//
// Batches form from one queue and go through a pipeline up to Lanes deep,
// each batch on its own connection: while one batch commits, the next takes
// its locks and writes its rows, and the one after that fills with the rows
// that arrive meanwhile. Batch k+1 starts only once batch k has taken every
// lock it will hold (its fence and COPY are done), commits only once batch
// k's outcome is final, and reports only after batch k has reported. So rows
// commit, become visible to readers and are reported in submission (id)
// order, and batch k never waits for a lock batch k+1 holds (the waits go
// one way: no deadlock, even for rows that conflict).
type MessageWriter struct {
	store *Store
	cfg   WriterConfig
	log   *slog.Logger
	queue chan pendingRow
	m     *writerMetrics // nil without cfg.Metrics

	// mu guards stopped. Submit holds it shared while it queues a row, so
	// once stop has set stopped under the write lock no row can be queued
	// that stop's drain would miss.
	mu      sync.RWMutex
	stopped bool

	// commit commits a batch's transaction; tests replace it to lose the
	// answer to a COMMIT.
	commit func(ctx context.Context, tx pgx.Tx) error
}

type pendingRow struct {
	m      Message
	epoch  int64
	done   func(error)
	queued time.Time
}

// batch is one transaction's rows on their way through the pipeline. Its
// rows and errs belong to the goroutine that runs it; the channels are
// closed once each.
type batch struct {
	rows []pendingRow
	errs []error
	prev *batch // dispatched just before, nil when it had finished; dropped once waited for
	// locked is closed once the batch takes no further locks: its COPY is
	// done, or it finished. The next batch starts then.
	locked     chan struct{}
	lockedOnce sync.Once
	// settled is closed once the batch's outcome is final. The next batch
	// commits only then.
	settled chan struct{}
	// reported is closed once every row's callback ran. The next batch
	// reports only then.
	reported chan struct{}
}

func (b *batch) markLocked() { b.lockedOnce.Do(func() { close(b.locked) }) }

// NewMessageWriter returns a writer on s; start it with Run.
func NewMessageWriter(s *Store, cfg WriterConfig) *MessageWriter {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = time.Millisecond
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16384
	}
	if cfg.Lanes <= 0 {
		cfg.Lanes = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	w := &MessageWriter{
		store:  s,
		cfg:    cfg,
		log:    cfg.Logger,
		queue:  make(chan pendingRow, cfg.QueueSize),
		commit: func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
	}
	if cfg.Metrics != nil {
		w.m = newWriterMetrics(cfg.Metrics, w.log, func() float64 { return float64(len(w.queue)) })
	}
	return w
}

// Submit queues a new message written under the channel owner epoch. It never
// blocks: when the queue is full it returns ErrOverloaded (and after Run has
// returned, ErrWriterStopped), and done is not called. Otherwise done is
// called exactly once: with nil after the row is committed, or with an error
// when it definitely was not (ErrFenced, ErrWriterStopped, the database's
// error), or, rarely, ErrOutcomeUnknown. For the rows of one channel, done is
// called in submission order. done runs on a writer goroutine and must not
// block; it may be nil.
func (w *MessageWriter) Submit(m Message, epoch int64, done func(error)) error {
	if m.Mentions == nil {
		m.Mentions = emptyIDs
	}
	if m.MentionRoles == nil {
		m.MentionRoles = emptyIDs
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.stopped {
		return ErrWriterStopped
	}
	select {
	case w.queue <- pendingRow{m: m, epoch: epoch, done: done, queued: time.Now()}:
		return nil
	default:
		return ErrOverloaded
	}
}

// Run writes batches until ctx ends. It finishes the batches in hand, fails
// every row still queued with ErrWriterStopped, and returns. Call it once.
func (w *MessageWriter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	// A token per batch in flight; the collector holds one while it
	// fills the next batch.
	slots := make(chan struct{}, w.cfg.Lanes)
	// Row slices of finished batches, for reuse.
	free := make(chan []pendingRow, w.cfg.Lanes+1)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var prev *batch
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		var rows []pendingRow
		select {
		case rows = <-free:
		default:
			rows = make([]pendingRow, 0, w.cfg.MaxBatch)
		}
		rows, ok := w.collect(ctx, rows, prev, timer)
		if !ok {
			<-slots
			break
		}
		b := &batch{rows: rows, errs: make([]error, len(rows)), prev: prev,
			locked: make(chan struct{}), settled: make(chan struct{}), reported: make(chan struct{})}
		wg.Go(func() {
			w.runBatch(ctx, b)
			clear(b.rows) // drop the references to callbacks and contents
			select {
			case free <- b.rows[:0]:
			default:
			}
			<-slots
		})
		prev = b
	}
	wg.Wait()
	w.stop()
}

// collect fills rows with the next batch: at least one row, then every row
// that arrives until the previous batch has taken its locks (this batch could
// not start before) and, with a MaxDelay, until the first row has waited
// that long, or until the batch is full. It reports false, with no rows,
// when ctx ends first.
func (w *MessageWriter) collect(ctx context.Context, rows []pendingRow, prev *batch, timer *time.Timer) ([]pendingRow, bool) {
	select {
	case p := <-w.queue:
		rows = append(rows, p)
	case <-ctx.Done():
		return rows, false
	}
	var locked <-chan struct{}
	// An idle writer sends a row at once; MaxDelay applies while another
	// batch is in flight.
	deadline := rows[0].queued
	if prev != nil && !isClosed(prev.settled) {
		locked = prev.locked
		deadline = deadline.Add(w.cfg.MaxDelay)
	}
	for len(rows) < w.cfg.MaxBatch {
		select {
		case p := <-w.queue:
			rows = append(rows, p)
			continue
		default:
		}
		if locked != nil {
			select {
			case <-locked:
				locked = nil
			default:
			}
		}
		wait := time.Until(deadline)
		if locked == nil && wait <= 0 {
			break
		}
		var expired <-chan time.Time
		if wait > 0 {
			timer.Reset(wait)
			expired = timer.C
		}
		select {
		case p := <-w.queue:
			rows = append(rows, p)
		case <-locked:
			locked = nil
		case <-expired:
		case <-ctx.Done():
			// Write what is in hand: the batch waits for its
			// predecessor itself.
			timer.Stop()
			return rows, true
		}
		timer.Stop()
	}
	return rows, true
}

// stop refuses further rows and fails the queued ones.
func (w *MessageWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	for len(w.queue) > 0 {
		p := <-w.queue
		if w.m != nil {
			w.m.failed.Inc()
		}
		if p.done != nil {
			p.done(ErrWriterStopped)
		}
	}
}

// runBatch commits b after its predecessor has taken its locks and reports
// every row's outcome in order, after its predecessor's. A batch still
// waiting for its predecessor when ctx (Run's) ends is not written: its rows
// fail with ErrWriterStopped, as the queued ones do.
func (w *MessageWriter) runBatch(ctx context.Context, b *batch) {
	if b.prev != nil {
		<-b.prev.locked
	}
	start := time.Now()
	if b.prev != nil && ctx.Err() != nil {
		for i := range b.errs {
			b.errs[i] = ErrWriterStopped
		}
	} else {
		w.write(context.WithoutCancel(ctx), b, b.rows, b.errs, true)
	}
	b.markLocked()
	if b.prev != nil {
		// A batch that committed nothing settles after its predecessor
		// too, or the next one could commit before that.
		<-b.prev.settled
	}
	close(b.settled)
	if w.m != nil {
		w.m.commitSeconds.Observe(time.Since(start).Seconds())
		w.m.batchRows.Observe(float64(len(b.rows)))
		for _, err := range b.errs {
			switch {
			case err == nil:
				w.m.committed.Inc()
			case errors.Is(err, ErrFenced):
				w.m.fenced.Inc()
			default:
				w.m.failed.Inc()
			}
		}
	}
	if b.prev != nil {
		<-b.prev.reported
		b.prev = nil // the chain of batches ends here
	}
	for i := range b.rows {
		if b.rows[i].done != nil {
			b.rows[i].done(b.errs[i])
		}
	}
	close(b.reported)
}

// write commits rows, a part of b (whole when they are all of b's rows),
// setting errs[i] to row i's outcome. A batch that fails on a row's own fault
// (a duplicate id, an id no partition holds, text PostgreSQL refuses) before
// it has let the next batch start is split and retried in halves until the
// culprits are alone: its transaction rolled back, so a retry cannot
// duplicate anything, and one bad row does not fail hundreds of good ones.
// (Once the next batch has started, a retry could wait for that batch's
// locks while it waits for this one: then the rows fail.)
func (w *MessageWriter) write(ctx context.Context, b *batch, rows []pendingRow, errs []error, whole bool) {
	definite, err := w.tryWrite(ctx, b, rows, errs, whole)
	if err == nil {
		return
	}
	if definite && len(rows) > 1 && rowFault(err) && !isClosed(b.locked) {
		mid := len(rows) / 2
		w.write(ctx, b, rows[:mid], errs[:mid], false)
		w.write(ctx, b, rows[mid:], errs[mid:], false)
		return
	}
	switch {
	case !rowFault(err):
		w.log.Error("message batch failed", slog.Int("rows", len(rows)), slog.Bool("definite", definite), slog.Any("error", err))
	case len(rows) == 1:
		w.log.Warn("message refused by the database", slog.Int64("id", rows[0].m.ID),
			slog.Int64("channel", rows[0].m.ChannelID), slog.Any("error", err))
	}
	for i := range errs {
		if errs[i] == nil {
			errs[i] = err
		}
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// rowFault reports whether err is PostgreSQL refusing some row's data: data
// exceptions (class 22) and integrity violations (class 23).
func rowFault(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && len(pgErr.Code) == 5 && (pgErr.Code[:2] == "22" || pgErr.Code[:2] == "23")
}

// fenceSQL locks the owner epochs of a batch's channels FOR SHARE (an epoch
// increment waits for the batch to commit) and returns them. $1: the
// channel ids.
const fenceSQL = `SELECT channel_id, epoch, pg_current_xact_id()::text::bigint
	FROM channel_owners WHERE channel_id = ANY ($1) FOR SHARE`

// fenceDMSQL is fenceSQL that also moves each DM channel's last_message_id to
// the batch's greatest id written under the current epoch. $1: the channel
// ids; $2, $3, $4: DM channel ids, epochs, greatest ids, one entry per (DM
// channel, epoch) of the batch.
//
// Only DM channels keep last_message_id: their lists are ordered by it. Guild
// channels' would cost an UPDATE per channel and batch (a quarter of
// PostgreSQL's CPU per message, measured) for a value nothing reads; it is
// the channel's greatest message id, which the (channel_id, id) index
// answers when something needs it.
const fenceDMSQL = `WITH o AS (
		SELECT channel_id, epoch FROM channel_owners WHERE channel_id = ANY ($1) FOR SHARE
	), u AS (
		UPDATE channels c SET last_message_id = v.max_id
		FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS v (channel_id, epoch, max_id)
		JOIN o ON o.channel_id = v.channel_id AND o.epoch = v.epoch
		WHERE c.id = v.channel_id AND (c.last_message_id IS NULL OR c.last_message_id < v.max_id)
	)
	SELECT channel_id, epoch, pg_current_xact_id()::text::bigint FROM o`

var messageCopyColumns = []string{"id", "channel_id", "guild_id", "author_id", "content", "nonce", "tts",
	"mention_everyone", "mentions", "mention_roles", "ref_message_id", "ref_channel_id", "ref_guild_id",
	"type", "flags", "edited_at", "pinned_at"}

// tryWrite runs one transaction for rows: fence, COPY, COMMIT. Rows of a
// stale epoch get ErrFenced in errs; an error for the whole batch is
// returned, with definite false when the outcome of its COMMIT could not be
// established (errs then already holds each row's outcome).
//
// For the whole of b, the next batch may start once the COPY is done; any
// COMMIT of b's rows waits until the batch before b has settled.
func (w *MessageWriter) tryWrite(ctx context.Context, b *batch, rows []pendingRow, errs []error, whole bool) (definite bool, err error) {
	clear(errs)
	ctx, cancel := context.WithTimeout(ctx, writerCommitTimeout)
	defer cancel()
	tx, err := w.store.pool.Begin(ctx)
	if err != nil {
		return true, err
	}
	defer func() { _ = tx.Rollback(ctx) }()

	// The batch's channels, and for DM channels the greatest id per
	// (channel, epoch).
	type key struct{ channel, epoch int64 }
	seen := make(map[int64]struct{}, 64)
	var dmMax map[key]int64
	chans := make([]int64, 0, 64)
	for i := range rows {
		m := &rows[i].m
		if _, ok := seen[m.ChannelID]; !ok {
			seen[m.ChannelID] = struct{}{}
			chans = append(chans, m.ChannelID)
		}
		if m.GuildID == 0 {
			if dmMax == nil {
				dmMax = make(map[key]int64)
			}
			k := key{m.ChannelID, rows[i].epoch}
			dmMax[k] = max(dmMax[k], m.ID)
		}
	}
	var res pgx.Rows
	if dmMax == nil {
		res, err = tx.Query(ctx, fenceSQL, chans)
	} else {
		dmChans, epochs, ids := make([]int64, 0, len(dmMax)), make([]int64, 0, len(dmMax)), make([]int64, 0, len(dmMax))
		for k, id := range dmMax {
			dmChans, epochs, ids = append(dmChans, k.channel), append(epochs, k.epoch), append(ids, id)
		}
		res, err = tx.Query(ctx, fenceDMSQL, chans, dmChans, epochs, ids)
	}
	if err != nil {
		return true, err
	}
	current := make(map[int64]int64, len(chans))
	var channel, epoch, xid int64
	if _, err := pgx.ForEachRow(res, []any{&channel, &epoch, &xid}, func() error {
		current[channel] = epoch
		return nil
	}); err != nil {
		return true, err
	}
	valid := 0
	for i := range rows {
		r := &rows[i]
		if cur, ok := current[r.m.ChannelID]; !ok || cur != r.epoch {
			errs[i] = fenceError(r.m.ChannelID, r.epoch, cur, ok)
			continue
		}
		valid++
	}
	if valid == 0 {
		return true, nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"messages"}, messageCopyColumns, newMessageSource(rows, errs)); err != nil {
		return true, err
	}
	if whole {
		b.markLocked()
	}
	if b.prev != nil {
		<-b.prev.settled
	}
	if err := w.commit(ctx, tx); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) || errors.Is(err, pgx.ErrTxCommitRollback) {
			return true, err // the server answered: rolled back
		}
		return false, w.resolve(ctx, xid, len(rows), err)
	}
	return true, nil
}

func fenceError(channel, epoch, current int64, owned bool) error {
	if !owned {
		return fmt.Errorf("%w: channel %d has no owner", ErrFenced, channel)
	}
	return fmt.Errorf("%w: channel %d epoch %d, current %d", ErrFenced, channel, epoch, current)
}

// resolve finds out whether transaction xid, whose COMMIT got no answer,
// committed: the rows not fenced then succeed, or all fail with cause. It
// polls pg_xact_status on another connection (the old backend may still be
// finishing) and gives up after writerResolveTimeout with ErrOutcomeUnknown.
func (w *MessageWriter) resolve(ctx context.Context, xid int64, rows int, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writerResolveTimeout)
	defer cancel()
	for {
		var status *string
		err := w.store.pool.QueryRow(ctx, `SELECT pg_xact_status($1::bigint::text::xid8)`, xid).Scan(&status)
		switch {
		case err == nil && status != nil && *status == "committed":
			w.log.Warn("message batch commit got no answer but committed", slog.Int("rows", rows), slog.Any("error", cause))
			return nil
		case err == nil && status != nil && *status == "aborted":
			return fmt.Errorf("commit failed: %w", cause)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, cause)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// messageSource feeds the rows not failed in errs to CopyFrom. Its values
// are pointers into the rows, typed so that pgx encodes them through pgtype's
// valuer interfaces: a pointer fits in an interface without allocating, and a
// plain *int64 would be dereferenced by reflection, which allocates.
type messageSource struct {
	rows []pendingRow
	errs []error
	i    int
	vals [17]any
}

func newMessageSource(rows []pendingRow, errs []error) *messageSource {
	return &messageSource{rows: rows, errs: errs, i: -1}
}

func (s *messageSource) Next() bool {
	for s.i++; s.i < len(s.rows) && s.errs[s.i] != nil; s.i++ {
	}
	return s.i < len(s.rows)
}

func (s *messageSource) Values() ([]any, error) {
	m := &s.rows[s.i].m
	v := &s.vals
	v[0], v[1], v[2], v[3] = (*idField)(&m.ID), (*idField)(&m.ChannelID), (*idField)(&m.GuildID), (*idField)(&m.AuthorID)
	v[4], v[5], v[6], v[7] = (*textField)(&m.Content), (*textField)(m.Nonce), m.TTS, m.MentionEveryone
	v[8], v[9] = (*pgtype.FlatArray[int64])(&m.Mentions), (*pgtype.FlatArray[int64])(&m.MentionRoles)
	v[10], v[11], v[12] = (*idField)(&m.RefMessageID), (*idField)(&m.RefChannelID), (*idField)(&m.RefGuildID)
	v[13], v[14], v[15], v[16] = (*intField)(&m.Type), (*intField)(&m.Flags), (*timeField)(m.EditedAt), (*timeField)(m.PinnedAt)
	return v[:], nil
}

func (s *messageSource) Err() error { return nil }

// Field types of messageSource. A nil pointer of any of them is NULL.
type (
	idField   int64 // 0 is NULL, as everywhere in Message
	intField  int
	textField string
	timeField time.Time
)

func (f *idField) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*f), Valid: *f != 0}, nil
}

func (f *intField) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*f), Valid: true}, nil
}

func (f *textField) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*f), Valid: true}, nil
}

func (f *timeField) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.Time(*f), Valid: true}, nil
}

// writerMetrics are the writer's Prometheus metrics.
type writerMetrics struct {
	batchRows                 prometheus.Histogram
	commitSeconds             prometheus.Histogram
	committed, fenced, failed prometheus.Counter
}

func newWriterMetrics(reg prometheus.Registerer, log *slog.Logger, depth func() float64) *writerMetrics {
	const ns, sub = "accord", "message_writer"
	rows := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "rows_total",
		Help: "Rows submitted to the message writer, by outcome: committed, fenced (stale owner epoch) or failed."},
		[]string{"outcome"})
	m := &writerMetrics{
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "batch_rows",
			Help: "Rows per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "commit_seconds",
			Help: "Time to write and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		committed: rows.WithLabelValues("committed"),
		fenced:    rows.WithLabelValues("fenced"),
		failed:    rows.WithLabelValues("failed"),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queue_rows",
		Help: "Rows waiting in the message writer's queue."}, depth)
	for _, c := range []prometheus.Collector{rows, m.batchRows, m.commitSeconds, queue} {
		if err := reg.Register(c); err != nil {
			log.Warn("message writer metric not registered", slog.Any("error", err))
		}
	}
	return m
}
