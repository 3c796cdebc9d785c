package persistence_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/snowflake"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// partitions lists the partitions of messages.
func partitions(t *testing.T, s *persistence.Store) []string {
	t.Helper()
	rows, err := s.Pool().Query(context.Background(), `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'messages'::regclass ORDER BY c.relname`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// insertRaw inserts a minimal message row with the given id.
func insertRaw(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, id, channel int64) error {
	_, err := q.Exec(ctx, `INSERT INTO messages (id, channel_id, author_id, content) VALUES ($1, $2, 1, 'x')`, id, channel)
	return err
}

func TestMessagePartitionRanges(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.EnsureMessagePartitions(ctx, date(2026, 11, 15), 2); err != nil {
		t.Fatal(err)
	}
	want := []string{"messages_2026_10", "messages_2026_11", "messages_2026_12", "messages_2027_01"}
	if got := partitions(t, s); !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
	dec := int64(snowflake.FromTime(date(2026, 12, 1)))
	for i, c := range []struct {
		id   int64
		want string
	}{
		{int64(snowflake.FromTime(date(2026, 10, 1))), "messages_2026_10"},
		{int64(snowflake.FromTime(time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC))) + 4097, "messages_2026_11"},
		{dec - 1, "messages_2026_11"},
		{dec, "messages_2026_12"},
		{int64(snowflake.FromTime(date(2027, 2, 1))) - 1, "messages_2027_01"},
	} {
		if err := insertRaw(ctx, s.Pool(), c.id, int64(i)); err != nil {
			t.Fatalf("insert %d: %v", c.id, err)
		}
		var got string
		if err := s.Pool().QueryRow(ctx, `SELECT tableoid::regclass::text FROM messages WHERE id = $1`, c.id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("id %d (%s) landed in %s, want %s", c.id, snowflake.ID(c.id).Time(), got, c.want)
		}
	}
	// Partitions inherit the parent's indexes.
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_indexes WHERE tablename = 'messages_2026_12'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("messages_2026_12 has %d indexes (%v), want 3 (pkey, channel, pins)", n, err)
	}
}

func TestRowWithoutPartitionFails(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.EnsureMessagePartitions(ctx, date(2026, 1, 10), 1); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{date(2026, 3, 1), date(2025, 11, 30)} {
		err := insertRaw(ctx, s.Pool(), int64(snowflake.FromTime(at)), 1)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
			t.Fatalf("row of %s without a partition: %v, want no-partition error 23514", at, err)
		}
	}
}

func TestEnsureMessagePartitionsConcurrently(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	stores := make([]*persistence.Store, 4)
	for i := range stores {
		s, err := persistence.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		stores[i] = s
	}
	var wg sync.WaitGroup
	errs := make([]error, len(stores))
	for i, s := range stores {
		wg.Go(func() { errs[i] = s.EnsureMessagePartitions(ctx, date(2026, 5, 3), 3) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent ensure: %v", err)
		}
	}
	if err := stores[0].EnsureMessagePartitions(ctx, date(2026, 5, 3), 3); err != nil {
		t.Fatalf("ensure again: %v", err)
	}
	want := []string{"messages_2026_04", "messages_2026_05", "messages_2026_06", "messages_2026_07", "messages_2026_08"}
	if got := partitions(t, stores[0]); !slices.Equal(got, want) {
		t.Fatalf("partitions %v, want %v", got, want)
	}
}

// Creating a partition must not wait for (or block) transactions writing
// messages: it attaches instead of taking ACCESS EXCLUSIVE on the parent.
func TestEnsureMessagePartitionsDoesNotBlockWriters(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	if err := s.EnsureMessagePartitions(ctx, date(2026, 5, 3), 0); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := insertRaw(ctx, tx, int64(snowflake.FromTime(date(2026, 5, 4))), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT count(*) FROM messages`); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.EnsureMessagePartitions(tctx, date(2026, 5, 3), 2); err != nil {
		t.Fatalf("ensure while a writer is open: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := insertRaw(ctx, s.Pool(), int64(snowflake.FromTime(date(2026, 7, 4))), 1); err != nil {
		t.Fatalf("insert into the new partition: %v", err)
	}
}

func TestDropMessagePartitionsBefore(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, now := range []time.Time{date(2025, 2, 1), date(2025, 6, 1)} {
		if err := s.EnsureMessagePartitions(ctx, now, 3); err != nil {
			t.Fatal(err)
		}
	}
	// 2025_01 .. 2025_09
	if got := partitions(t, s); len(got) != 9 {
		t.Fatalf("partitions %v", got)
	}
	for _, at := range []time.Time{date(2025, 1, 5), date(2025, 3, 31), date(2025, 4, 1), date(2025, 8, 1)} {
		if err := insertRaw(ctx, s.Pool(), int64(snowflake.FromTime(at)), 7); err != nil {
			t.Fatal(err)
		}
	}
	// A detach interrupted before its drop leaves a plain table behind; the
	// next run drops it too.
	if _, err := s.Pool().Exec(ctx, `ALTER TABLE messages DETACH PARTITION messages_2025_02`); err != nil {
		t.Fatal(err)
	}

	// Cutoff inside April: March ends before it, April does not.
	dropped, err := s.DropMessagePartitionsBefore(ctx, time.Date(2025, 4, 20, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"messages_2025_01", "messages_2025_02", "messages_2025_03"}; !slices.Equal(dropped, want) {
		t.Fatalf("dropped %v, want %v", dropped, want)
	}
	want := []string{"messages_2025_04", "messages_2025_05", "messages_2025_06", "messages_2025_07", "messages_2025_08", "messages_2025_09"}
	if got := partitions(t, s); !slices.Equal(got, want) {
		t.Fatalf("left %v, want %v", got, want)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname ~ '^messages_2025_0[123]'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables of dropped months remain (%v)", n, err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d messages left (%v), want the 2 of April and August", n, err)
	}
	// A cutoff on a month boundary drops the month that ends there.
	dropped, err = s.DropMessagePartitionsBefore(ctx, date(2025, 5, 1))
	if err != nil || !slices.Equal(dropped, []string{"messages_2025_04"}) {
		t.Fatalf("dropped %v (%v), want April", dropped, err)
	}
	if dropped, err = s.DropMessagePartitionsBefore(ctx, date(2025, 5, 1)); err != nil || len(dropped) != 0 {
		t.Fatalf("second run dropped %v (%v)", dropped, err)
	}
}

func TestPartitionKeeper(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.EnsureMessagePartitions(ctx, date(2025, 1, 10), 0); err != nil {
		t.Fatal(err)
	}
	now := date(2025, 6, 10)
	k := &persistence.PartitionKeeper{Store: s, Ahead: 2, Retention: 60 * 24 * time.Hour, Interval: time.Hour,
		Logger: quiet, Now: func() time.Time { return now }}
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx) }()
	// First run at once: 2024_12 and 2025_01 are past the 60 days, 2025_05..08 exist.
	want := []string{"messages_2025_05", "messages_2025_06", "messages_2025_07", "messages_2025_08"}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if got := partitions(t, s); !slices.Equal(got, want) {
			return errors.New("partitions " + join(got) + ", want " + join(want))
		}
		return nil
	})
	cancel()
	<-done

	// A retention shorter than a month never drops the previous month's partition.
	k = &persistence.PartitionKeeper{Store: s, Retention: time.Hour, Logger: quiet, Now: func() time.Time { return now }}
	if err := k.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := partitions(t, s); got[0] != "messages_2025_05" {
		t.Fatalf("short retention dropped the previous month: %v", got)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func join(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// checkFor polls fn every `every` until it succeeds or total has passed.
func checkFor(t testing.TB, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(every)
	}
}
