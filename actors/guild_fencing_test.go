package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/accordchat/accord/persistence"
)

// testGuildFencing: a guild activation that a newer owner has taken the
// guild over from (simulated by taking the epoch directly in the database,
// as another node's activation would) commits nothing; it stops itself, and
// the call is retried on a fresh activation, which loads what the newer owner
// wrote, so the caller sees its change applied once, never an error.
func testGuildFencing(t *testing.T, f *fixture) {
	ctx := context.Background()
	owner := f.createUser(t, "fenced", "pw-fenced")
	id := f.nextID.Add(1)
	call := func(op, body string) GuildResponse {
		t.Helper()
		req := GuildRequest{GuildID: id, Op: op, ActorID: owner.ID}
		if body != "" {
			req.Body = []byte(body)
		}
		r, err := f.sys.Guilds().Call(ctxT(t), req)
		if err != nil {
			t.Fatalf("%s: %v", op, err)
		}
		return r
	}
	if r := call("guild.create", `{"name":"Before"}`); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	// The activation that created the guild is live and holds its epoch.
	if r := call("guild.get", ""); r.Status != 200 {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	fencings := f.sys.GuildFencings()

	// Another activation takes the guild over and renames it.
	newer, err := f.store.AcquireGuildEpoch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := f.store.LoadGuild(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	renamed := snap.Guild
	renamed.Name = "Renamed elsewhere"
	if err := f.store.WriteGuild(ctx, id, newer, func(w *persistence.GuildWriter) error { return w.UpdateGuild(renamed) }); err != nil {
		t.Fatal(err)
	}

	// The old activation still believes the name is "Before": its write of
	// the whole guild row would undo the rename. It is fenced out instead,
	// and the update runs on a fresh activation that loaded the rename.
	r := call("guild.update", `{"system_channel_id":null}`)
	var g struct {
		Name            string  `json:"name"`
		SystemChannelID *string `json:"system_channel_id"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &g) != nil || g.Name != "Renamed elsewhere" || g.SystemChannelID != nil {
		t.Fatalf("update after the takeover: %d %s", r.Status, r.Body)
	}
	snap, err = f.store.LoadGuild(ctx, id)
	if err != nil || snap.Guild.Name != "Renamed elsewhere" || snap.Guild.SystemChannelID != 0 {
		t.Fatalf("stored guild %+v (%v): want the rename and the update", snap.Guild, err)
	}
	if got := f.sys.GuildFencings(); got != fencings+1 {
		t.Fatalf("guild fencings %d, want %d", got, fencings+1)
	}
	if got := ownerEpoch(t, f, id); got != newer+1 {
		t.Fatalf("epoch %d, want %d (taken by the fresh activation)", got, newer+1)
	}

	// Again, with calls queued at the stale activation: each is retried and
	// applied exactly once, and only the stale activation is fenced out.
	if _, err := f.store.AcquireGuildEpoch(ctx, id); err != nil {
		t.Fatal(err)
	}
	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			req := GuildRequest{GuildID: id, Op: "roles.create", ActorID: owner.ID, Body: fmt.Appendf(nil, `{"name":"once %d"}`, i)}
			if r, err := f.sys.Guilds().Call(ctxT(t), req); err != nil || r.Status != 200 {
				t.Errorf("create role %d: %v %d %s", i, err, r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	snap, err = f.store.LoadGuild(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, role := range snap.Roles {
		names[role.Name]++
	}
	for i := range n {
		if got := names[fmt.Sprintf("once %d", i)]; got != 1 {
			t.Errorf("role %q stored %d times, want once", fmt.Sprintf("once %d", i), got)
		}
	}
	if len(snap.Roles) != n+1 {
		t.Errorf("%d roles, want @everyone and %d", len(snap.Roles), n)
	}
	if got := f.sys.GuildFencings(); got != fencings+2 {
		t.Fatalf("guild fencings %d, want %d", got, fencings+2)
	}
	if snap.Guild.Name != "Renamed elsewhere" {
		t.Fatalf("name %q: a stale activation's state was written", snap.Guild.Name)
	}
}

func ownerEpoch(t *testing.T, f *fixture, guildID int64) int64 {
	t.Helper()
	var epoch int64
	if err := f.store.Pool().QueryRow(context.Background(), `SELECT epoch FROM guild_owners WHERE guild_id = $1`, guildID).Scan(&epoch); err != nil {
		t.Fatal(err)
	}
	return epoch
}
