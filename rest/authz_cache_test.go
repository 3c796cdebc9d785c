package rest_test

import (
	"context"
	"testing"
	"time"

	"github.com/accordchat/accord/actors"
)

// authorizeDirect asks the guild grain for who's authorization in channel,
// as the message path does.
func (e *env) authorizeDirect(t *testing.T, g guild, who account, channel string) []byte {
	t.Helper()
	r, err := e.system.Guilds().Call(context.Background(), actors.GuildRequest{GuildID: id64(t, g.id), Op: "channel.authorize",
		ActorID: id64(t, who.id), Params: map[string]string{"channel_id": channel}})
	if err != nil || r.Status != 200 {
		t.Fatalf("authorize: %v %d %s", err, r.Status, r.Body)
	}
	return r.Body
}

// The guild grain sends a channel's viewer list once per guild state; the
// channel grain keeps it, asks for it again when it lacks the list an
// authorization refers to, and every change to the guild makes a new list.
func TestViewerListFollowsTheGuild(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Viewers")
	ch := expect(t, e.do(t, "POST", "/api/v10/guilds/"+g.id+"/channels", auth(owner), map[string]any{"name": "fresh"}), 201, -1).body["id"].(string)

	first := e.authorizeDirect(t, g, owner, ch)
	second := e.authorizeDirect(t, g, owner, ch)
	a1, v1, in1, err1 := actors.DecodeAuthz(first)
	_, v2, in2, err2 := actors.DecodeAuthz(second)
	if err1 != nil || err2 != nil || !in1 || in2 || v1 != v2 || len(a1.Viewers) != 1 {
		t.Fatalf("authorizations: included %v then %v, versions %d %d, viewers %v (%v %v)", in1, in2, v1, v2, a1.Viewers, err1, err2)
	}

	// The channel grain has never seen a list: it asks for one.
	create := func(authz []byte) actors.GuildResponse {
		r, err := e.system.Channels().Call(context.Background(), actors.ChannelRequest{ChannelID: id64(t, ch), Op: "message.create",
			ActorID: id64(t, owner.id), Body: []byte(`{"content":"direct"}`), Authz: authz})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := create(second); r.Status != actors.StatusNeedViewers {
		t.Fatalf("send without a list: status %d %s, want %d", r.Status, r.Body, actors.StatusNeedViewers)
	}
	// Through REST the round trip is invisible: the guild grain already
	// sent this version's list, the channel grain has none, REST asks again.
	created := since(t, "MESSAGE_CREATE", ch)
	e.rxSend(t, owner, ch, "one")
	wantRecipients(t, "MESSAGE_CREATE", created(), owner)
	// Now the grain holds the list: the short authorization works.
	if r := create(second); r.Status != 200 {
		t.Fatalf("send with the list held: status %d %s", r.Status, r.Body)
	}

	// A member joins: a new state, a new list.
	e.join(t, g, member)
	created = since(t, "MESSAGE_CREATE", ch)
	e.rxSend(t, owner, ch, "two")
	wantRecipients(t, "MESSAGE_CREATE", created(), owner, member)
	if r := create(second); r.Status != actors.StatusNeedViewers {
		t.Fatalf("send with a stale version: status %d %s, want %d", r.Status, r.Body, actors.StatusNeedViewers)
	}

	// An overwrite hides the channel from the member: the next message
	// does not reach them.
	e.rxOverwrite(t, owner, ch, member.id, 1, 0, permView)
	created = since(t, "MESSAGE_CREATE", ch)
	e.rxSend(t, owner, ch, "three")
	wantRecipients(t, "MESSAGE_CREATE", created(), owner)
}

// Authorizations are cached in the guild grain (per state version) and the
// channel grain (per identical answer): every change, a timeout's end and a
// message's mentions still count for the very next send.
func TestCachedAuthorizationFollowsChanges(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Cached")
	e.join(t, g, member)
	send := func(content string) resp { return e.send(t, member, g.general, map[string]any{"content": content}) }

	for range 3 {
		expect(t, send("warm"), 200, -1)
	}
	// Denied, then allowed again, each for the next send.
	e.rxOverwrite(t, owner, g.general, member.id, 1, 0, permSend)
	expect(t, send("denied"), 403, 50013)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general+"/permissions/"+member.id, auth(owner), nil), 204, -1)
	expect(t, send("allowed"), 200, -1)

	// Mentions come from each message, not from a cached answer.
	r := expect(t, send("hi <@"+owner.id+">"), 200, -1)
	if ms, _ := r.body["mentions"].([]any); len(ms) != 1 {
		t.Fatalf("mentions of a mentioning message: %s", r.raw)
	}
	r = expect(t, send("plain"), 200, -1)
	if ms, _ := r.body["mentions"].([]any); len(ms) != 0 {
		t.Fatalf("mentions of a plain message: %s", r.raw)
	}
	r = expect(t, e.send(t, member, g.general, map[string]any{"content": "quiet <@" + owner.id + ">",
		"allowed_mentions": map[string]any{"parse": []string{}}}), 200, -1)
	if ms, _ := r.body["mentions"].([]any); len(ms) != 0 {
		t.Fatalf("mentions with allowed_mentions none: %s", r.raw)
	}

	// A timeout stops sends until it ends, without any change to the guild.
	until := time.Now().Add(1500 * time.Millisecond)
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id+"/members/"+member.id, auth(owner),
		map[string]any{"communication_disabled_until": until.UTC().Format(time.RFC3339Nano)}), 200, -1)
	expect(t, send("timed out"), 403, 50013)
	expect(t, send("still timed out"), 403, 50013)
	for time.Now().Before(until.Add(50 * time.Millisecond)) {
		time.Sleep(50 * time.Millisecond)
	}
	expect(t, send("after the timeout"), 200, -1)
}
