package persistence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accordchat/accord/persistence"
)

const (
	fenceOwner   = 900
	fenceGuild   = 9000
	fenceChannel = 9001
)

// newFenceGuild creates a user and, under a fresh epoch, the guild fenceGuild
// with its @everyone role, one text channel and the owner as member. It
// returns the epoch.
func newFenceGuild(t *testing.T, s *persistence.Store) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := s.CreateUser(ctx, persistence.NewUser{ID: fenceOwner, Username: "owner", Email: "owner@x.io", PasswordHash: "h"}); err != nil {
		t.Fatal(err)
	}
	epoch, err := s.AcquireGuildEpoch(ctx, fenceGuild)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.WriteGuild(ctx, fenceGuild, epoch, func(w *persistence.GuildWriter) error {
		if err := w.InsertGuild(persistence.Guild{ID: fenceGuild, Name: "Fenced", OwnerID: fenceOwner, CreatedAt: now}); err != nil {
			return err
		}
		if err := w.PutRole(persistence.Role{ID: fenceGuild, GuildID: fenceGuild, Name: "@everyone"}); err != nil {
			return err
		}
		if err := w.PutChannel(persistence.Channel{ID: fenceChannel, GuildID: fenceGuild, Name: "general", CreatedAt: now}); err != nil {
			return err
		}
		return w.PutMember(persistence.Member{GuildID: fenceGuild, User: persistence.MemberUser{ID: fenceOwner}, JoinedAt: now})
	})
	if err != nil {
		t.Fatalf("create guild under epoch %d: %v", epoch, err)
	}
	return epoch
}

func guildEpoch(t *testing.T, s *persistence.Store, guildID int64) int64 {
	t.Helper()
	var epoch int64
	if err := s.Pool().QueryRow(context.Background(), `SELECT epoch FROM guild_owners WHERE guild_id = $1`, guildID).Scan(&epoch); err != nil {
		t.Fatalf("guild %d epoch: %v", guildID, err)
	}
	return epoch
}

func TestAcquireGuildEpoch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for want := int64(1); want <= 3; want++ {
		if got, err := s.AcquireGuildEpoch(ctx, 42); err != nil || got != want {
			t.Fatalf("epoch %d (%v), want %d", got, err, want)
		}
	}
	// Guild and channel epochs are separate, even for equal ids.
	if got, err := s.AcquireChannelEpoch(ctx, 42); err != nil || got != 1 {
		t.Fatalf("channel 42 starts at %d (%v), want 1", got, err)
	}
	if got, err := s.AcquireGuildEpoch(ctx, 43); err != nil || got != 1 {
		t.Fatalf("another guild starts at %d (%v), want 1", got, err)
	}
}

// A guild write under a superseded, a future or no epoch fails with
// ErrFenced and changes nothing; under the current epoch it commits.
func TestFencedGuildWrites(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	old := newFenceGuild(t, s)
	before, err := s.LoadGuild(ctx, fenceGuild)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.AcquireGuildEpoch(ctx, fenceGuild)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	writes := map[string]func(w *persistence.GuildWriter) error{
		"rename": func(w *persistence.GuildWriter) error {
			return w.UpdateGuild(persistence.Guild{ID: fenceGuild, Name: "Stale", OwnerID: fenceOwner})
		},
		"role": func(w *persistence.GuildWriter) error {
			return w.PutRole(persistence.Role{ID: 9100, GuildID: fenceGuild, Name: "ghost"})
		},
		"channel": func(w *persistence.GuildWriter) error { return w.DeleteChannel(fenceChannel) },
		"member":  func(w *persistence.GuildWriter) error { return w.DeleteMember(fenceGuild, fenceOwner) },
		"ban": func(w *persistence.GuildWriter) error {
			return w.PutBan(persistence.Ban{GuildID: fenceGuild, User: persistence.MemberUser{ID: fenceOwner}, CreatedAt: now})
		},
		"delete": func(w *persistence.GuildWriter) error { return w.DeleteGuild(fenceGuild) },
	}
	for name, fn := range writes {
		ran := false
		err := s.WriteGuild(ctx, fenceGuild, old, func(w *persistence.GuildWriter) error { ran = true; return fn(w) })
		if !errors.Is(err, persistence.ErrFenced) || ran {
			t.Errorf("%s under a stale epoch: %v (ran %v), want ErrFenced before any write", name, err, ran)
		}
		if err := s.WriteGuild(ctx, fenceGuild, cur+1, fn); !errors.Is(err, persistence.ErrFenced) {
			t.Errorf("%s under a future epoch: %v, want ErrFenced", name, err)
		}
	}
	// A guild nobody owns is fenced too.
	if err := s.WriteGuild(ctx, fenceGuild+1, 1, writes["role"]); !errors.Is(err, persistence.ErrFenced) {
		t.Errorf("write to an unowned guild: %v, want ErrFenced", err)
	}
	after, err := s.LoadGuild(ctx, fenceGuild)
	if err != nil {
		t.Fatal(err)
	}
	if after.Guild.Name != before.Guild.Name || len(after.Roles) != len(before.Roles) || len(after.Channels) != len(before.Channels) ||
		len(after.Members) != len(before.Members) || len(after.Bans) != 0 {
		t.Fatalf("fenced writes changed the guild:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := guildEpoch(t, s, fenceGuild); got != cur {
		t.Fatalf("fenced writes moved the epoch to %d, want %d", got, cur)
	}
	// The current owner writes.
	if err := s.WriteGuild(ctx, fenceGuild, cur, writes["rename"]); err != nil {
		t.Fatalf("write under the current epoch: %v", err)
	}
	if g, err := s.LoadGuild(ctx, fenceGuild); err != nil || g.Guild.Name != "Stale" {
		t.Fatalf("current owner's rename: %q %v", g.Guild.Name, err)
	}
}

// A new owner's AcquireGuildEpoch waits for a write that passed the fence to
// commit, so the new owner's load sees it; the old owner's next write is
// fenced out.
func TestGuildEpochAcquireWaitsForWrite(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	e := newFenceGuild(t, s)
	fenced, release := make(chan struct{}), make(chan struct{})
	written := make(chan error, 1)
	go func() {
		written <- s.WriteGuild(ctx, fenceGuild, e, func(w *persistence.GuildWriter) error {
			if err := w.UpdateGuild(persistence.Guild{ID: fenceGuild, Name: "In flight", OwnerID: fenceOwner}); err != nil {
				return err
			}
			close(fenced)
			<-release
			return nil
		})
	}()
	<-fenced
	acquired := make(chan int64, 1)
	go func() {
		next, err := s.AcquireGuildEpoch(ctx, fenceGuild)
		if err != nil {
			t.Error(err)
		}
		acquired <- next
	}()
	select {
	case <-acquired:
		close(release) // let the write finish, so the database can be dropped
		<-written
		t.Fatal("a new guild epoch was granted while a write under the old one was between fence and commit")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-written; err != nil {
		t.Fatalf("in-flight write: %v", err)
	}
	next := <-acquired
	if next != e+1 {
		t.Fatalf("new epoch %d, want %d", next, e+1)
	}
	// The new owner loads after acquiring: it sees the old owner's write.
	if g, err := s.LoadGuild(ctx, fenceGuild); err != nil || g.Guild.Name != "In flight" {
		t.Fatalf("new owner's load: %q %v", g.Guild.Name, err)
	}
	err := s.WriteGuild(ctx, fenceGuild, e, func(w *persistence.GuildWriter) error {
		return w.UpdateGuild(persistence.Guild{ID: fenceGuild, Name: "Too late", OwnerID: fenceOwner})
	})
	if !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("old owner's write after the takeover: %v, want ErrFenced", err)
	}
	if g, _ := s.LoadGuild(ctx, fenceGuild); g.Guild.Name != "In flight" {
		t.Fatalf("name %q after a fenced write", g.Guild.Name)
	}
}

// A deleted guild keeps its owner epoch, bumped past the deleting owner's:
// no activation writes to it again without a new epoch, and epochs are never
// reused.
func TestDeletedGuildKeepsBumpedEpoch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	stale := newFenceGuild(t, s)
	e, err := s.AcquireGuildEpoch(ctx, fenceGuild)
	if err != nil {
		t.Fatal(err)
	}
	chEpoch, err := s.AcquireChannelEpoch(ctx, fenceChannel)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WriteGuild(ctx, fenceGuild, e, func(w *persistence.GuildWriter) error { return w.DeleteGuild(fenceGuild) }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoadGuild(ctx, fenceGuild); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("load after delete: %v, want ErrNotFound", err)
	}
	if got := guildEpoch(t, s, fenceGuild); got <= e {
		t.Fatalf("epoch after delete %d, want > %d", got, e)
	}
	recreate := func(w *persistence.GuildWriter) error {
		return w.InsertGuild(persistence.Guild{ID: fenceGuild, Name: "Ghost", OwnerID: fenceOwner, CreatedAt: time.Now()})
	}
	for _, epoch := range []int64{stale, e} {
		if err := s.WriteGuild(ctx, fenceGuild, epoch, recreate); !errors.Is(err, persistence.ErrFenced) {
			t.Fatalf("write under epoch %d after the delete: %v, want ErrFenced", epoch, err)
		}
	}
	if _, err := s.LoadGuild(ctx, fenceGuild); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("a fenced write brought the guild back: %v", err)
	}
	if next, err := s.AcquireGuildEpoch(ctx, fenceGuild); err != nil || next <= e+1 {
		t.Fatalf("epoch after delete and reacquire %d (%v), want > %d", next, err, e+1)
	}
	// The guild's channels are fenced out too.
	var ch int64
	if err := s.Pool().QueryRow(ctx, `SELECT epoch FROM channel_owners WHERE channel_id = $1`, fenceChannel).Scan(&ch); err != nil || ch <= chEpoch {
		t.Fatalf("channel epoch after the guild's delete %d (%v), want > %d", ch, err, chEpoch)
	}
}

// A write that reaches the fence while a new owner's increment is in flight
// waits for it and then sees the new epoch: it is fenced out, not let through
// on the row version it would have read before.
func TestGuildWriteWaitsForAcquire(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	e := newFenceGuild(t, s)
	takeover, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = takeover.Rollback(ctx) }()
	// AcquireGuildEpoch's statement, its transaction not yet committed.
	if _, err := takeover.Exec(ctx, `UPDATE guild_owners SET epoch = epoch + 1 WHERE guild_id = $1`, fenceGuild); err != nil {
		t.Fatal(err)
	}
	written := make(chan error, 1)
	go func() {
		written <- s.WriteGuild(ctx, fenceGuild, e, func(w *persistence.GuildWriter) error {
			return w.UpdateGuild(persistence.Guild{ID: fenceGuild, Name: "Raced", OwnerID: fenceOwner})
		})
	}()
	select {
	case err := <-written:
		t.Fatalf("write finished (%v) while the takeover was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := takeover.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-written; !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("write racing the takeover: %v, want ErrFenced", err)
	}
	if g, err := s.LoadGuild(ctx, fenceGuild); err != nil || g.Guild.Name != "Fenced" {
		t.Fatalf("name %q (%v) after a fenced write", g.Guild.Name, err)
	}
}

// TestAcquireExistingGuildEpoch: an epoch for a guild that exists, and
// nothing (no row written) for an id no guild has.
func TestAcquireExistingGuildEpoch(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	owners := func() (n int) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM guild_owners`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if epoch, ok, err := s.AcquireExistingGuildEpoch(ctx, fenceGuild); err != nil || ok || epoch != 0 {
		t.Fatalf("unknown guild: epoch %d, ok %v, err %v; want 0, false, nil", epoch, ok, err)
	}
	if n := owners(); n != 0 {
		t.Fatalf("%d owner rows after asking for an unknown guild, want 0", n)
	}
	created := newFenceGuild(t, s)
	epoch, ok, err := s.AcquireExistingGuildEpoch(ctx, fenceGuild)
	if err != nil || !ok || epoch != created+1 {
		t.Fatalf("existing guild: epoch %d, ok %v, err %v; want %d, true, nil", epoch, ok, err, created+1)
	}
	// The increment fences the creator's epoch out, as AcquireGuildEpoch's does.
	err = s.WriteGuild(ctx, fenceGuild, created, func(w *persistence.GuildWriter) error { return nil })
	if !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("write under the replaced epoch: %v, want ErrFenced", err)
	}
}
