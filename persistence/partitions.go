package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accordchat/accord/snowflake"
)

// The messages table has one partition per calendar month (UTC) of snowflake
// time: the partition of month M, named messages_YYYY_MM, holds the ids in
// [snowflake.FromTime(first instant of M), snowflake.FromTime(first instant of
// M+1)). There is no default partition, so a row whose month has no partition
// fails to insert (SQLSTATE 23514) rather than landing where retention would
// never find it: partitions must exist ahead of time (PrepareMessages at start,
// then a PartitionKeeper).
//
// Neither creating nor dropping a partition stops message writes. A new
// partition is created as a plain table and then attached, which locks the
// parent in SHARE UPDATE EXCLUSIVE mode only; CREATE TABLE ... PARTITION OF
// would take ACCESS EXCLUSIVE and queue every insert behind any long read. An
// old partition is detached CONCURRENTLY before it is dropped, for the same
// reason.

// DefaultPartitionsAhead is how many months of partitions beyond the current
// one PrepareMessages and PartitionKeeper keep created.
const DefaultPartitionsAhead = 3

// partitionsLock serialises partition maintenance across nodes.
const partitionsLock = int64(0x61636b6579730003)

var partitionName = regexp.MustCompile(`^messages_([0-9]{4})_([0-9]{2})$`)

// PrepareMessages makes sure the message partitions of the previous, current
// and next DefaultPartitionsAhead months exist. Call it once at start, after
// Open, before any message is written.
func (s *Store) PrepareMessages(ctx context.Context) error {
	return s.EnsureMessagePartitions(ctx, time.Now(), DefaultPartitionsAhead)
}

// monthStart returns the first instant of t's month in UTC, moved by delta
// months.
func monthStart(t time.Time, delta int) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month()+time.Month(delta), 1, 0, 0, 0, 0, time.UTC)
}

// messagePartition is one month's partition.
type messagePartition struct {
	name   string
	month  time.Time // first instant, UTC
	lo, hi int64     // id range [lo, hi)
}

func partitionFor(month time.Time) messagePartition {
	return messagePartition{
		name:  fmt.Sprintf("messages_%04d_%02d", month.Year(), int(month.Month())),
		month: month,
		lo:    int64(snowflake.FromTime(month)),
		hi:    int64(snowflake.FromTime(month.AddDate(0, 1, 0))),
	}
}

// EnsureMessagePartitions creates the monthly partitions of messages from the
// month before now's through ahead months after it, those that do not exist
// yet. It is idempotent and safe to run on several nodes at once: creation is
// serialised by an advisory lock and rechecked under it.
func (s *Store) EnsureMessagePartitions(ctx context.Context, now time.Time, ahead int) error {
	var want []messagePartition
	for d := -1; d <= ahead; d++ {
		p := partitionFor(monthStart(now, d))
		if p.lo < p.hi { // months before the snowflake epoch hold no ids
			want = append(want, p)
		}
	}
	existing, err := s.messagePartitionNames(ctx, s.pool)
	if err != nil {
		return fmt.Errorf("persistence: list message partitions: %w", err)
	}
	missing := slices.DeleteFunc(want, func(p messagePartition) bool { return existing[p.name] })
	if len(missing) == 0 {
		return nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, partitionsLock); err != nil {
			return err
		}
		existing, err := s.messagePartitionNames(ctx, tx)
		if err != nil {
			return err
		}
		for _, p := range missing {
			attached, ok := existing[p.name]
			if attached {
				continue // another node made it meanwhile
			}
			if ok {
				return fmt.Errorf("%s exists but is not a partition of messages (detached by a retention run with a cutoff in the future?): drop it or attach it", p.name)
			}
			name := pgx.Identifier{p.name}.Sanitize()
			if _, err := tx.Exec(ctx, `CREATE TABLE `+name+` (LIKE messages INCLUDING DEFAULTS)`); err != nil {
				return fmt.Errorf("create %s: %w", p.name, err)
			}
			// The matching CHECK lets ATTACH skip its validation scan (the
			// table is empty anyway) and documents the range on the table.
			if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s CHECK (id >= %d AND id < %d)`,
				name, pgx.Identifier{p.name + "_range"}.Sanitize(), p.lo, p.hi)); err != nil {
				return fmt.Errorf("create %s: %w", p.name, err)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`ALTER TABLE messages ATTACH PARTITION %s FOR VALUES FROM (%d) TO (%d)`,
				name, p.lo, p.hi)); err != nil {
				return fmt.Errorf("attach %s: %w", p.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("persistence: create message partitions: %w", err)
	}
	return nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// messagePartitionNames returns the names of every table of the partition
// naming scheme: attached partitions (true), and tables a detach left behind
// (false: still to be dropped; a crash between detach and drop leaves them).
func (s *Store) messagePartitionNames(ctx context.Context, q querier) (map[string]bool, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname, i.inhrelid IS NOT NULL AND NOT i.inhdetachpending
		FROM pg_class c
		LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'messages'::regclass
		WHERE c.relkind = 'r' AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'messages'::regclass)
		  AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$'`)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	var name string
	var attached bool
	_, err = pgx.ForEachRow(rows, []any{&name, &attached}, func() error {
		names[name] = attached
		return nil
	})
	return names, err
}

// DropMessagePartitionsBefore drops the monthly message partitions whose every
// id is older than cutoff (their month ends at or before it) and returns their
// names, oldest first. Partitions are detached CONCURRENTLY first, so writes
// to the other partitions never wait; the detach waits for transactions that
// may still read the partition. A run interrupted between detach and drop is
// finished by the next one.
func (s *Store) DropMessagePartitionsBefore(ctx context.Context, cutoff time.Time) ([]string, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("persistence: drop message partitions: %w", err)
	}
	defer conn.Release()
	// DETACH ... CONCURRENTLY cannot run in a transaction, so the lock is a
	// session lock; if it cannot be released the connection goes with it.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, partitionsLock); err != nil {
		return nil, fmt.Errorf("persistence: drop message partitions: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, partitionsLock); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()

	names, err := s.messagePartitionNames(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("persistence: list message partitions: %w", err)
	}
	pending, err := detachPending(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("persistence: list message partitions: %w", err)
	}
	var old []messagePartition
	for name := range names {
		m := partitionName.FindStringSubmatch(name)
		year, _ := strconv.Atoi(m[1])
		month, _ := strconv.Atoi(m[2])
		if month < 1 || month > 12 {
			continue
		}
		p := partitionFor(time.Date(year, time.Month(month), 1, 0, 0, 0, 0, time.UTC))
		if p.name == name && !p.month.AddDate(0, 1, 0).After(cutoff) {
			old = append(old, p)
		}
	}
	slices.SortFunc(old, func(a, b messagePartition) int { return a.month.Compare(b.month) })

	var dropped []string
	for _, p := range old {
		name := pgx.Identifier{p.name}.Sanitize()
		switch {
		case pending[p.name]:
			_, err = conn.Exec(ctx, `ALTER TABLE messages DETACH PARTITION `+name+` FINALIZE`)
		case names[p.name]:
			_, err = conn.Exec(ctx, `ALTER TABLE messages DETACH PARTITION `+name+` CONCURRENTLY`)
		}
		if err == nil {
			_, err = conn.Exec(ctx, `DROP TABLE `+name)
		}
		if err != nil {
			return dropped, fmt.Errorf("persistence: drop message partition %s: %w", p.name, err)
		}
		dropped = append(dropped, p.name)
	}
	return dropped, nil
}

// detachPending names the partitions whose concurrent detach was interrupted.
func detachPending(ctx context.Context, q querier) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'messages'::regclass AND i.inhdetachpending`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m, nil
}

// PartitionKeeper keeps message partitions created ahead of time and, with a
// retention, drops those past it. One per node is fine: nodes serialise on an
// advisory lock.
type PartitionKeeper struct {
	// Store is the database. Required.
	Store *Store
	// Ahead is how many months beyond the current one get partitions;
	// 0 means DefaultPartitionsAhead.
	Ahead int
	// Retention is how long messages are kept; 0 keeps them forever. It is
	// rounded to whole partitions: a month is dropped once all of it is older
	// than Retention, and the previous month's partition is always kept, so
	// the effective minimum is about one month.
	Retention time.Duration
	// Interval is the time between runs; 0 means one hour.
	Interval time.Duration
	// Logger receives errors and dropped partitions; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. For tests.
	Now func() time.Time
}

// Run maintains the partitions at once and then every Interval until ctx
// ends. Failures are logged and retried at the next interval.
func (k *PartitionKeeper) Run(ctx context.Context) {
	interval := k.Interval
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := k.RunOnce(ctx); err != nil && ctx.Err() == nil {
			k.logger().Error("message partition maintenance failed", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce creates missing partitions and then applies the retention.
func (k *PartitionKeeper) RunOnce(ctx context.Context) error {
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	ahead := k.Ahead
	if ahead <= 0 {
		ahead = DefaultPartitionsAhead
	}
	errEnsure := k.Store.EnsureMessagePartitions(ctx, now, ahead)
	if k.Retention <= 0 {
		return errEnsure
	}
	cutoff := now.Add(-k.Retention)
	if keep := monthStart(now, -1); cutoff.After(keep) {
		cutoff = keep // never drop what EnsureMessagePartitions would create again
	}
	dropped, errDrop := k.Store.DropMessagePartitionsBefore(ctx, cutoff)
	for _, name := range dropped {
		k.logger().Info("dropped message partition past retention", slog.String("partition", name),
			slog.Duration("retention", k.Retention))
	}
	return errors.Join(errEnsure, errDrop)
}

func (k *PartitionKeeper) logger() *slog.Logger {
	if k.Logger != nil {
		return k.Logger
	}
	return slog.Default()
}
