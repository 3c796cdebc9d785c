package persistence

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
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
	// MaxDelay is how long a batch may wait to fill, counted from the
	// submission of its first row; default 1ms, negative for no wait. Rows
	// that queued while the previous batch committed do not wait again.
	// Measured on 2 cores shared with PostgreSQL (REST benchmark, 100
	// senders waiting for their acks): 1ms sends ~10% more messages/s than
	// 2ms with a p50 1ms lower, at ~15% more PostgreSQL CPU per row; with
	// no wait, batches get small enough that PostgreSQL's per-batch cost
	// (200-300us of CPU, much of it waking up for each round trip) eats the
	// gain. Under a deeper queue (the grain benchmark, 400 sends in flight)
	// 2ms is ~8% faster.
	MaxDelay time.Duration
	// QueueSize is how many submitted rows may wait, shared evenly by the
	// lanes; beyond it Submit fails with ErrOverloaded. Default 16384.
	QueueSize int
	// Lanes is how many batches may be in flight at once, each on its own
	// connection; a channel always uses the same lane. Default 2: with one,
	// the database idles while the writer prepares the next batch and the
	// writer idles while the database works (measured on 2 cores: 1 lane
	// ~170k rows/s, 2 lanes ~260k, 3 lanes no better than 2).
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
// Rows go to one of a few lanes by channel. A lane has its own queue and
// commits one batch at a time, in queue order, so a channel's rows are also
// committed, and become visible to readers, in submission (id) order; lanes
// commit concurrently.
type MessageWriter struct {
	store *Store
	cfg   WriterConfig
	log   *slog.Logger
	lanes []*writerLane
	m     *writerMetrics // nil without cfg.Metrics

	// mu guards stopped. Submit holds it shared while it queues a row, so
	// once stop has set stopped under the write lock no row can be queued
	// that stop's drain would miss.
	mu      sync.RWMutex
	stopped bool

	// copyCommit sends a batch's COPY data and its COMMIT; tests replace it
	// to lose the answer to the COMMIT or to hold a batch before it.
	copyCommit func(ctx context.Context, conn *pgxpool.Conn, data []byte) error
}

// writerLane is one queue and its batch; its fields other than queue are
// owned by the lane's goroutine in Run.
type writerLane struct {
	w     *MessageWriter
	queue chan pendingRow
	batch []pendingRow
	errs  []error
	timer *time.Timer
}

type pendingRow struct {
	m      Message
	epoch  int64
	done   func(error)
	queued time.Time
}

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
		store:      s,
		cfg:        cfg,
		log:        cfg.Logger,
		copyCommit: copyCommitDefault,
	}
	perLane := (cfg.QueueSize + cfg.Lanes - 1) / cfg.Lanes
	for range cfg.Lanes {
		l := &writerLane{
			w:     w,
			queue: make(chan pendingRow, perLane),
			batch: make([]pendingRow, 0, cfg.MaxBatch),
			errs:  make([]error, cfg.MaxBatch),
			timer: time.NewTimer(time.Hour),
		}
		l.timer.Stop()
		w.lanes = append(w.lanes, l)
	}
	if cfg.Metrics != nil {
		w.m = newWriterMetrics(cfg.Metrics, w.log, func() float64 {
			n := 0
			for _, l := range w.lanes {
				n += len(l.queue)
			}
			return float64(n)
		})
	}
	return w
}

// lane returns the lane of a channel. Snowflakes' low bits are mostly zero
// (sequence numbers), so the id is mixed first (Fibonacci hashing).
func (w *MessageWriter) lane(channelID int64) *writerLane {
	h := uint64(channelID) * 0x9E3779B97F4A7C15
	return w.lanes[(h>>32)%uint64(len(w.lanes))]
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
	l := w.lane(m.ChannelID)
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.stopped {
		return ErrWriterStopped
	}
	select {
	case l.queue <- pendingRow{m: m, epoch: epoch, done: done, queued: time.Now()}:
		return nil
	default:
		return ErrOverloaded
	}
}

// Run writes batches until ctx ends. It finishes the batches in hand, fails
// every row still queued with ErrWriterStopped, and returns. Call it once.
func (w *MessageWriter) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range w.lanes {
		wg.Go(func() { l.run(ctx) })
	}
	wg.Wait()
	w.stop()
}

func (l *writerLane) run(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			return
		case p := <-l.queue:
			l.batch = append(l.batch[:0], p)
		}
		l.fill(ctx)
		l.w.writeBatch(context.WithoutCancel(ctx), l.batch, l.errs[:len(l.batch)])
		clear(l.batch) // drop the references to callbacks and contents
	}
}

// fill adds queued rows to the batch until it is full or its first row has
// waited MaxDelay.
func (l *writerLane) fill(ctx context.Context) {
	deadline := l.batch[0].queued.Add(l.w.cfg.MaxDelay)
	for len(l.batch) < l.w.cfg.MaxBatch {
		select {
		case p := <-l.queue:
			l.batch = append(l.batch, p)
			continue
		default:
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		l.timer.Reset(wait)
		select {
		case p := <-l.queue:
			l.timer.Stop()
			l.batch = append(l.batch, p)
		case <-l.timer.C:
			return
		case <-ctx.Done():
			l.timer.Stop()
			return
		}
	}
}

// stop refuses further rows and fails the queued ones.
func (w *MessageWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
	for _, l := range w.lanes {
		for len(l.queue) > 0 {
			p := <-l.queue
			if w.m != nil {
				w.m.failed.Inc()
			}
			if p.done != nil {
				p.done(ErrWriterStopped)
			}
		}
	}
}

// writeBatch commits rows and reports every row's outcome in order.
func (w *MessageWriter) writeBatch(ctx context.Context, rows []pendingRow, errs []error) {
	start := time.Now()
	w.write(ctx, rows, errs)
	if w.m != nil {
		w.m.commitSeconds.Observe(time.Since(start).Seconds())
		w.m.batchRows.Observe(float64(len(rows)))
		for _, err := range errs {
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
	for i := range rows {
		if rows[i].done != nil {
			rows[i].done(errs[i])
		}
	}
	clear(errs)
}

// write commits rows, setting errs[i] to row i's outcome. A batch that fails
// on a row's own fault (a duplicate id, an id no partition holds, text
// PostgreSQL refuses) is split and retried in halves until the culprits are
// alone: its transaction rolled back, so a retry cannot duplicate anything,
// and one bad row does not fail hundreds of good ones.
func (w *MessageWriter) write(ctx context.Context, rows []pendingRow, errs []error) {
	definite, err := w.tryWrite(ctx, rows, errs)
	if err == nil {
		return
	}
	if definite && len(rows) > 1 && rowFault(err) {
		mid := len(rows) / 2
		w.write(ctx, rows[:mid], errs[:mid])
		w.write(ctx, rows[mid:], errs[mid:])
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

// copyCommitSQL copies a batch's rows in and commits, in one simple query:
// PostgreSQL runs the COMMIT after the COPY's data has arrived, or skips it
// when the COPY fails.
var copyCommitSQL = "COPY messages (" + strings.Join(messageCopyColumns, ", ") + ") FROM STDIN (FORMAT binary); COMMIT"

// copyOIDs are the types of messageCopyColumns, for the binary COPY format.
var copyOIDs = [...]uint32{pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID,
	pgtype.TextOID, pgtype.TextOID, pgtype.BoolOID, pgtype.BoolOID, pgtype.Int8ArrayOID, pgtype.Int8ArrayOID,
	pgtype.Int8OID, pgtype.Int8OID, pgtype.Int8OID, pgtype.Int2OID, pgtype.Int4OID, pgtype.TimestamptzOID,
	pgtype.TimestamptzOID}

// tryWrite runs one transaction for rows in two round trips: BEGIN and the
// fence query (the owner epochs of the batch's channels, locked FOR SHARE)
// go out together; then the COPY's data and the COMMIT. Rows of a stale
// epoch get ErrFenced in errs; an error for the whole batch is returned,
// with definite false when the outcome of its COMMIT could not be
// established (errs then already holds each row's outcome).
//
// Two round trips, not pgx's BEGIN, query, CopyFrom and COMMIT: every round
// trip costs both processes a wake-up, and on this 2-core machine the five
// of those cost more CPU than the COPY itself at the ~25-row batches a busy
// node commits (measured in isolation: 35 µs of CPU per row for the five,
// 30 for the two).
func (w *MessageWriter) tryWrite(ctx context.Context, rows []pendingRow, errs []error) (definite bool, err error) {
	clear(errs)
	ctx, cancel := context.WithTimeout(ctx, writerCommitTimeout)
	defer cancel()
	conn, err := w.store.pool.Acquire(ctx)
	if err != nil {
		return true, err // nothing was sent
	}
	defer func() {
		if conn.Conn().PgConn().TxStatus() != 'I' && !conn.Conn().IsClosed() {
			// A transaction left open; Release would close the connection.
			_, _ = conn.Conn().PgConn().Exec(ctx, "ROLLBACK").ReadAll()
		}
		conn.Release()
	}()

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
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	if dmMax == nil {
		batch.Queue(fenceSQL, chans)
	} else {
		dmChans, epochs, ids := make([]int64, 0, len(dmMax)), make([]int64, 0, len(dmMax)), make([]int64, 0, len(dmMax))
		for k, id := range dmMax {
			dmChans, epochs, ids = append(dmChans, k.channel), append(epochs, k.epoch), append(ids, id)
		}
		batch.Queue(fenceDMSQL, chans, dmChans, epochs, ids)
	}
	current := make(map[int64]int64, len(chans))
	var xid int64
	if err := w.fence(ctx, conn, batch, current, &xid); err != nil {
		return true, err // nothing committed: the transaction is rolled back
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
	data, err := encodeCopy(conn.Conn().TypeMap(), rows, errs)
	if err != nil {
		return true, err
	}
	if err := w.copyCommit(ctx, conn, data); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) || errors.Is(err, pgx.ErrTxCommitRollback) {
			return true, err // the server answered: rolled back
		}
		return false, w.resolve(ctx, xid, len(rows), err)
	}
	return true, nil
}

// fence sends BEGIN and the fence query of batch and reads the epochs into
// current and the transaction id into xid.
func (w *MessageWriter) fence(ctx context.Context, conn *pgxpool.Conn, batch *pgx.Batch, current map[int64]int64, xid *int64) error {
	br := conn.SendBatch(ctx, batch)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return err
	}
	res, err := br.Query()
	if err == nil {
		var channel, epoch int64
		_, err = pgx.ForEachRow(res, []any{&channel, &epoch, xid}, func() error {
			current[channel] = epoch
			return nil
		})
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyCommitDefault sends the COPY's data and the COMMIT (copyCommitSQL).
func copyCommitDefault(ctx context.Context, conn *pgxpool.Conn, data []byte) error {
	tag, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(data), copyCommitSQL)
	if err != nil {
		return err
	}
	if tag.String() != "COMMIT" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// encodeCopy encodes the rows not failed in errs in COPY's binary format.
func encodeCopy(m *pgtype.Map, rows []pendingRow, errs []error) ([]byte, error) {
	buf := make([]byte, 0, 64+len(rows)*256)
	buf = append(buf, "PGCOPY\n\xff\r\n\x00"...)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0) // flags, header extension length
	src := newMessageSource(rows, errs)
	for src.Next() {
		vals, _ := src.Values()
		buf = binary.BigEndian.AppendUint16(buf, uint16(len(vals)))
		for i, v := range vals {
			at := len(buf)
			buf = binary.BigEndian.AppendUint32(buf, 0xffffffff) // NULL unless encoded
			enc, err := m.Encode(copyOIDs[i], pgtype.BinaryFormatCode, v, buf)
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", messageCopyColumns[i], err)
			}
			if enc != nil {
				buf = enc
				binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
			}
		}
	}
	return binary.BigEndian.AppendUint16(buf, 0xffff), nil
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
