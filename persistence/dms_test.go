package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/accordchat/accord/persistence"
)

func TestGroupDMMembership(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	name := "crew"
	if err := s.CreateNamedGroupDM(ctx, 700, 5, []int64{3, 4}, &name); err != nil {
		t.Fatal(err)
	}
	dm, err := s.DMChannel(ctx, 700)
	if err != nil || dm.Type != persistence.ChannelTypeGroupDM || dm.OwnerID != 5 || dm.Name == nil || *dm.Name != "crew" ||
		!slices.Equal(dm.Recipients, []int64{3, 4, 5}) {
		t.Fatalf("group DM %+v (%v)", dm, err)
	}
	if _, err := s.DMChannel(ctx, 701); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown channel: %v", err)
	}
	epoch, _ := s.AcquireChannelEpoch(ctx, 700)

	// The limit counts the owner; a stale epoch writes nothing.
	if _, err := s.AddGroupDMRecipient(ctx, epoch, 700, 6, 3); !errors.Is(err, persistence.ErrGroupDMFull) {
		t.Fatalf("add to a full group: %v", err)
	}
	if added, err := s.AddGroupDMRecipient(ctx, epoch, 700, 6, 4); err != nil || !added {
		t.Fatalf("add: %v %v", added, err)
	}
	if added, err := s.AddGroupDMRecipient(ctx, epoch, 700, 6, 4); err != nil || added {
		t.Fatalf("add again: %v %v", added, err)
	}
	if _, err := s.AddGroupDMRecipient(ctx, epoch-1, 700, 7, 10); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale add: %v", err)
	}
	if _, err := s.RemoveGroupDMRecipient(ctx, epoch-1, 700, 3); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale remove: %v", err)
	}
	if err := s.SetGroupDMName(ctx, epoch-1, 700, nil); !errors.Is(err, persistence.ErrFenced) {
		t.Fatalf("stale rename: %v", err)
	}
	if err := s.SetGroupDMName(ctx, epoch, 700, nil); err != nil {
		t.Fatal(err)
	}

	// The owner leaves: the lowest remaining id owns it.
	res, err := s.RemoveGroupDMRecipient(ctx, epoch, 700, 5)
	if err != nil || res != (persistence.GroupDMRemoval{Removed: true, OwnerID: 3}) {
		t.Fatalf("owner leaves: %+v %v", res, err)
	}
	if res, err := s.RemoveGroupDMRecipient(ctx, epoch, 700, 5); err != nil || res.Removed || res.OwnerID != 3 {
		t.Fatalf("remove again: %+v %v", res, err)
	}
	if dm, _ := s.DMChannel(ctx, 700); dm.OwnerID != 3 || dm.Name != nil || !slices.Equal(dm.Recipients, []int64{3, 4, 6}) {
		t.Fatalf("after the owner left: %+v", dm)
	}

	// The last one out deletes the channel with its messages.
	writeMessages(t, s, epoch, msg(700, 1, "bye"))
	for _, u := range []int64{4, 6} {
		if res, err := s.RemoveGroupDMRecipient(ctx, epoch, 700, u); err != nil || res.Deleted {
			t.Fatalf("remove %d: %+v %v", u, res, err)
		}
	}
	if res, err := s.RemoveGroupDMRecipient(ctx, epoch, 700, 3); err != nil || res != (persistence.GroupDMRemoval{Removed: true, Deleted: true}) {
		t.Fatalf("last leaves: %+v %v", res, err)
	}
	if _, err := s.DMChannel(ctx, 700); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("deleted channel: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM messages WHERE channel_id = 700`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d messages left (%v)", n, err)
	}
	// The epoch moved on (never reused), fencing the old owner out.
	var current int64
	if err := s.Pool().QueryRow(ctx, `SELECT epoch FROM channel_owners WHERE channel_id = 700`).Scan(&current); err != nil || current <= epoch {
		t.Fatalf("epoch after delete %d (%v), want > %d", current, err, epoch)
	}
	// Writes of the old owner are fenced out.
	if errs := submitAll(t, s, epoch, msg(700, 2, "ghost")); !errors.Is(errs[0], persistence.ErrFenced) {
		t.Fatalf("write to a deleted group DM: %v", errs[0])
	}
}

func TestUsersSharingGuild(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, u := range []int64{1, 2, 3, 4} {
		if _, err := s.CreateUser(ctx, persistence.NewUser{ID: u, Username: fmt.Sprint("u", u), Email: fmt.Sprint(u, "@x.io"), PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO guilds (id, name, owner_id) VALUES (10, 'g', 1), (11, 'h', 3);
		INSERT INTO guild_members (guild_id, user_id) VALUES (10, 1), (10, 2), (11, 1), (11, 3), (10, 3)`); err != nil {
		t.Fatal(err)
	}
	got, err := s.UsersSharingGuild(ctx, 1, []int64{2, 3, 4})
	if err != nil || len(got) != 2 || !got[2] || !got[3] {
		t.Fatalf("sharing with 1: %v %v", got, err)
	}
	if got, _ := s.UsersSharingGuild(ctx, 4, []int64{1, 2}); len(got) != 0 {
		t.Fatalf("sharing with 4: %v", got)
	}
}
