package persistence

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/snowflake"
)

// The message writer against the floor it is built on: BenchmarkWriter pushes
// rows through Submit from one goroutine per channel (100 channels, each with
// at most 64 rows outstanding, like channel grains awaiting their acks), with
// one lane (one connection, one batch in flight) and with the default two;
// BenchmarkPlainCopy COPYs batches of the writer's MaxBatch rows into the same
// table in a loop on one connection, with nothing else. All report rows/s; the
// writer should reach at least 70% of the plain COPY rate.
//
// Both run against pgtest's server, which runs with fsync=off and
// synchronous_commit=off: the figures measure CPU and round trips, not disk
// flushes. With a durable server every commit waits for a WAL flush, which
// group commit amortises over a whole batch while a row-at-a-time writer
// could not, so the writer's advantage there is larger, not smaller.

const (
	benchChannels    = 100 // as in benchStore's SQL
	benchOutstanding = 64  // per channel
	benchContent     = "hello everyone, this is a message of about the length people type in chat."
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	if err := s.PrepareMessages(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO channels (id, type) SELECT g, 0 FROM generate_series(1, 100) g;
		INSERT INTO channel_owners (channel_id, epoch) SELECT g, 1 FROM generate_series(1, 100) g`); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchMessage(id, channel int64) Message {
	return Message{ID: id, ChannelID: channel, GuildID: 1, AuthorID: 42, Content: benchContent,
		Mentions: emptyIDs, MentionRoles: emptyIDs}
}

func BenchmarkWriter(b *testing.B) {
	for _, lanes := range []int{1, 2} {
		b.Run(fmt.Sprintf("lanes=%d", lanes), func(b *testing.B) { benchmarkWriter(b, lanes) })
	}
}

func benchmarkWriter(b *testing.B, lanes int) {
	s := benchStore(b)
	w := NewMessageWriter(s, WriterConfig{Lanes: lanes, Logger: quietLog})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); w.Run(ctx) }()
	defer func() { cancel(); <-stopped }()

	base := int64(snowflake.FromTime(time.Now()))
	var (
		next, failed, overloaded atomic.Int64
		acks                     sync.WaitGroup
		submitters               sync.WaitGroup
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for c := int64(1); c <= benchChannels; c++ {
		n := b.N / benchChannels
		if c <= int64(b.N%benchChannels) {
			n++
		}
		submitters.Go(func() {
			sem := make(chan struct{}, benchOutstanding)
			done := func(err error) {
				if err != nil {
					failed.Add(1)
				}
				<-sem
				acks.Done()
			}
			for range n {
				sem <- struct{}{}
				acks.Add(1)
				m := benchMessage(base+next.Add(1), c)
				for w.Submit(m, 1, done) == ErrOverloaded {
					overloaded.Add(1)
					time.Sleep(100 * time.Microsecond)
				}
			}
		})
	}
	submitters.Wait()
	acks.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
	if failed.Load() > 0 {
		b.Fatalf("%d rows failed", failed.Load())
	}
	if overloaded.Load() > 0 {
		b.Logf("%d submits overloaded", overloaded.Load())
	}
}

func BenchmarkPlainCopy(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const batch = 512
	rows := make([]pendingRow, 0, batch)
	errs := make([]error, batch)
	id := int64(snowflake.FromTime(time.Now()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		rows = rows[:0]
		for i := 0; i < batch && done < b.N; i++ {
			id++
			rows = append(rows, pendingRow{m: benchMessage(id, int64(done%benchChannels+1)), epoch: 1})
			done++
		}
		if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"messages"}, messageCopyColumns,
			newMessageSource(rows, errs[:len(rows)])); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
}
