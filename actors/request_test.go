package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testRequests checks the grain call path (System.request): answers reach
// their own caller even while callers give up early and reply processes
// are reused, and a canceled context fails fast.
func testRequests(t *testing.T, f *fixture) {
	owner := f.createUser(t, "requester", "pw-requester")
	const guilds = 8
	ids := make([]int64, guilds)
	for i := range ids {
		ids[i] = f.nextID.Add(1)
		r, err := f.sys.Guilds().Call(ctxT(t), GuildRequest{GuildID: ids[i], Op: "guild.create", ActorID: owner.ID,
			Body: fmt.Appendf(nil, `{"name":"guild %d"}`, i)})
		if err != nil || r.Status != 201 {
			t.Fatalf("create guild: %v %d %s", err, r.Status, r.Body)
		}
	}

	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for n := range 50 {
				i := (w + n) % guilds
				ctx, cancel := context.Background(), func() {}
				impatient := n%3 == 0
				if impatient {
					// Gives up around the time the grain answers: the late
					// answer must not reach anyone else.
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(300))*time.Microsecond)
				}
				r, err := f.sys.Guilds().Call(ctx, GuildRequest{GuildID: ids[i], Op: "guild.get", ActorID: owner.ID})
				cancel()
				if impatient && err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("impatient call: %v", err)
					}
					continue
				}
				if err != nil {
					t.Error(err)
					continue
				}
				var g struct {
					ID string `json:"id"`
				}
				if r.Status != 200 || json.Unmarshal(r.Body, &g) != nil || g.ID != strconv.FormatInt(ids[i], 10) {
					t.Errorf("guild.get %d answered %d %s", ids[i], r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.sys.Guilds().Call(canceled, GuildRequest{GuildID: ids[0], Op: "guild.get", ActorID: owner.ID}); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a canceled context = %v", err)
	}
	if _, err := f.sys.Channels().Call(canceled, ChannelRequest{ChannelID: 1, Op: "typing", ActorID: owner.ID}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("channel call with a canceled context = %v", err)
	}
}

// testForwardedSends checks CallAuthorized: the guild grain hands an
// authorized send to the channel grain, which answers the caller; a refusal
// comes from the guild grain; a stale channel grain PID in the cache costs a
// retry, not the send.
func testForwardedSends(t *testing.T, f *fixture) {
	if err := f.store.PrepareMessages(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	owner := f.createUser(t, "forwarder", "pw-forwarder")
	stranger := f.createUser(t, "stranger", "pw-stranger")
	guildID := f.nextID.Add(1)
	if r, err := f.sys.Guilds().Call(ctxT(t), GuildRequest{GuildID: guildID, Op: "guild.create", ActorID: owner.ID,
		Body: []byte(`{"name":"forwarding"}`)}); err != nil || r.Status != 201 {
		t.Fatalf("create guild: %v %d %s", err, r.Status, r.Body)
	}
	var channelID int64
	if err := f.store.Pool().QueryRow(ctxT(t), `SELECT id FROM channels WHERE guild_id = $1 AND type = 0`, guildID).Scan(&channelID); err != nil {
		t.Fatal(err)
	}
	params := map[string]string{"channel_id": strconv.FormatInt(channelID, 10)}
	send := func(actor int64, content string) (GuildResponse, bool) {
		t.Helper()
		var r GuildResponse
		var authorized bool
		var err error
		viewers := map[string]string{"channel_id": params["channel_id"], "viewers": "all"}
		for _, p := range []map[string]string{params, viewers} {
			r, authorized, err = f.sys.Channels().CallAuthorized(ctxT(t), guildID, p, ChannelRequest{ChannelID: channelID,
				Op: "message.create", ActorID: actor, Body: fmt.Appendf(nil, `{"content":%q}`, content)})
			if err != nil {
				t.Fatalf("send %q: %v", content, err)
			}
			if r.Status != StatusNeedViewers {
				break
			}
		}
		return r, authorized
	}
	stored := func() int {
		var n int
		if err := f.store.Pool().QueryRow(ctxT(t), `SELECT count(*) FROM messages WHERE channel_id = $1`, channelID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	// The first send finds no channel grain PID in the cache, the next
	// ones are handed on.
	for i := range 3 {
		if r, ok := send(owner.ID, fmt.Sprint("hello ", i)); !ok || r.Status != 200 {
			t.Fatalf("send %d: authorized %v, %d %s", i, ok, r.Status, r.Body)
		}
	}
	pid, ok := f.sys.cluster.PidCache.Get(params["channel_id"], channelKind)
	if !ok {
		t.Fatal("the channel grain's PID is not cached")
	}

	if r, ok := send(stranger.ID, "let me in"); ok || r.Status != 403 {
		t.Fatalf("stranger's send: authorized %v, %d %s", ok, r.Status, r.Body)
	}

	// The channel grain stops; its PID stays cached.
	if err := f.sys.actors.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	f.sys.cluster.PidCache.Set(params["channel_id"], channelKind, pid)
	if r, ok := send(owner.ID, "after the stop"); !ok || r.Status != 200 {
		t.Fatalf("send to a stopped channel grain: authorized %v, %d %s", ok, r.Status, r.Body)
	}
	if n := stored(); n != 4 {
		t.Fatalf("%d messages stored, want 4", n)
	}
}
