package persistence

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/snowflake"
)

// These tests reach into the writer to lose the answer to a COMMIT or to hold
// a batch between its fence and its COPY and commit.

func newInternalStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.PrepareMessages(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var quietLog = slog.New(slog.DiscardHandler)

// runBatch submits rows to w, runs it until all outcomes are in and returns
// them.
func runBatch(t *testing.T, w *MessageWriter, epoch int64, ids ...int64) []error {
	t.Helper()
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		m := Message{ID: id, ChannelID: 1, AuthorID: 1, Content: "m"}
		if err := w.Submit(m, epoch, func(err error) { errs[i] = err; wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	wg.Wait()
	cancel()
	<-done
	return errs
}

func countMessages(t *testing.T, s *Store) int {
	var n int
	if err := s.pool.QueryRow(context.Background(), `SELECT count(*) FROM messages`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var errLostAnswer = errors.New("connection reset by peer (simulated)")

// The COMMIT reached the server but its answer was lost: the writer finds
// out that the batch committed and acknowledges it, rather than failing rows
// that are stored (which a client retry would duplicate).
func TestWriterResolvesLostCommitAnswer(t *testing.T) {
	s := newInternalStore(t)
	e, _ := s.AcquireChannelEpoch(context.Background(), 1)
	w := NewMessageWriter(s, WriterConfig{MaxDelay: -1, Logger: quietLog})
	w.copyCommit = func(ctx context.Context, conn *pgxpool.Conn, data []byte) error {
		if err := copyCommitDefault(ctx, conn, data); err != nil {
			return err
		}
		return errLostAnswer
	}
	base := int64(snowflake.FromTime(time.Now()))
	for i, err := range runBatch(t, w, e, base+1, base+2, base+3) {
		if err != nil {
			t.Fatalf("row %d of a committed batch: %v", i, err)
		}
	}
	if n := countMessages(t, s); n != 3 {
		t.Fatalf("%d rows stored", n)
	}
}

// The connection died before COMMIT went out: the transaction aborted and
// every row says so.
func TestWriterResolvesLostCommit(t *testing.T) {
	s := newInternalStore(t)
	e, _ := s.AcquireChannelEpoch(context.Background(), 1)
	w := NewMessageWriter(s, WriterConfig{MaxDelay: -1, Logger: quietLog})
	w.copyCommit = func(ctx context.Context, conn *pgxpool.Conn, data []byte) error {
		_ = conn.Conn().Close(ctx)
		return errLostAnswer
	}
	base := int64(snowflake.FromTime(time.Now()))
	for i, err := range runBatch(t, w, e, base+1, base+2) {
		if !errors.Is(err, errLostAnswer) || errors.Is(err, ErrOutcomeUnknown) {
			t.Fatalf("row %d of an aborted batch: %v, want the commit error", i, err)
		}
	}
	if n := countMessages(t, s); n != 0 {
		t.Fatalf("%d rows stored", n)
	}
}

// A new owner's AcquireChannelEpoch waits for a batch that passed the fence
// to commit, so the new owner's load sees that batch: the fence cannot be
// passed by a write that lands after the takeover.
func TestEpochAcquireWaitsForFencedBatch(t *testing.T) {
	s := newInternalStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	fenced, release := make(chan struct{}), make(chan struct{})
	w := NewMessageWriter(s, WriterConfig{MaxDelay: -1, Logger: quietLog})
	w.copyCommit = func(ctx context.Context, conn *pgxpool.Conn, data []byte) error {
		close(fenced)
		<-release
		return copyCommitDefault(ctx, conn, data)
	}
	base := int64(snowflake.FromTime(time.Now()))
	outcome := make(chan []error, 1)
	go func() { outcome <- runBatch(t, w, e, base+1) }()
	<-fenced
	acquired := make(chan int64, 1)
	go func() {
		next, err := s.AcquireChannelEpoch(ctx, 1)
		if err != nil {
			t.Error(err)
		}
		acquired <- next
	}()
	select {
	case <-acquired:
		t.Fatal("a new epoch was granted while a batch under the old one was between fence and commit")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if errs := <-outcome; errs[0] != nil {
		t.Fatalf("batch: %v", errs[0])
	}
	if next := <-acquired; next != e+1 {
		t.Fatalf("new epoch %d", next)
	}
	if n := countMessages(t, s); n != 1 {
		t.Fatalf("%d rows stored", n)
	}
}
