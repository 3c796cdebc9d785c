package rest_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accordchat/accord/actors"
)

// Permission bits the channel tests use.
const (
	permBan            = 1 << 2
	permAdmin          = 1 << 3
	permManageChannels = 1 << 4
	permView           = 1 << 10
	permSend           = 1 << 11
	permEmbedLinks     = 1 << 14
	permManageRoles    = 1 << 28
)

func id64(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q: %v", s, err)
	}
	return n
}

// count runs a count(*) query.
func (e *env) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// since returns a function listing the events of typ about channel ch
// emitted after since was called.
func since(t *testing.T, typ, ch string) func() []actors.Event {
	t.Helper()
	id := id64(t, ch)
	list := func() []actors.Event {
		var out []actors.Event
		for _, ev := range events.find(typ, "") {
			if ev.ChannelID == id {
				out = append(out, ev)
			}
		}
		return out
	}
	n := len(list())
	return func() []actors.Event { return list()[n:] }
}

// wantRecipients checks that exactly one event arrived, to exactly who.
func wantRecipients(t *testing.T, what string, evs []actors.Event, who ...account) {
	t.Helper()
	if len(who) == 0 {
		if len(evs) != 0 {
			t.Fatalf("%s: %d events, want none (recipients %v)", what, len(evs), evs[0].Recipients)
		}
		return
	}
	if len(evs) != 1 {
		t.Fatalf("%s: %d events, want 1", what, len(evs))
	}
	want := make([]int64, len(who))
	for i, a := range who {
		want[i] = id64(t, a.id)
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(evs[0].Recipients))
	if !slices.Equal(got, want) {
		t.Fatalf("%s: recipients %v, want %v", what, got, want)
	}
}

// fieldError checks a 400 50035 naming field.
func fieldError(t *testing.T, r resp, field string) {
	t.Helper()
	expect(t, r, 400, 50035)
	errs, _ := r.body["errors"].(map[string]any)
	if _, ok := errs[field]; !ok {
		t.Fatalf("no error for %q: %s", field, r.raw)
	}
}

func auth(a account) string { return "Bearer " + a.access }

func channelIDs(chans []map[string]any) []string {
	out := make([]string, len(chans))
	for i, ch := range chans {
		out[i] = ch["id"].(string)
	}
	return out
}

func TestChannelCreate(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Babbage Works")
	e.join(t, g, member)
	path := "/api/v10/guilds/" + g.id + "/channels"

	// discord.js sends no type: a text channel, its name made Discord-like.
	r := expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "  Release   Notes "}), 201, -1)
	notes := r.body["id"].(string)
	if r.body["name"] != "release-notes" || r.body["type"] != 0.0 || r.body["guild_id"] != g.id ||
		r.body["parent_id"] != nil || r.body["position"] != 0.0 || r.body["topic"] != nil || r.body["nsfw"] != false {
		t.Fatalf("created text channel: %s", r.raw)
	}
	if ows, _ := r.body["permission_overwrites"].([]any); ows == nil || len(ows) != 0 {
		t.Fatalf("permission_overwrites must be []: %s", r.raw)
	}
	if _, ok := r.body["bitrate"]; ok {
		t.Fatalf("text channel with a bitrate: %s", r.raw)
	}
	// Visible at once to members, through both reads.
	expect(t, e.do(t, "GET", "/api/v10/channels/"+notes, auth(member), nil), 200, -1)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+notes, auth(stranger), nil), 403, 50001)
	if !slices.Contains(channelIDs(e.list(t, "GET", path, member, 200)), notes) {
		t.Fatal("new channel missing from the member's list")
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND name = 'release-notes' AND type = 0`, id64(t, notes)); n != 1 {
		t.Fatal("channel not stored")
	}
	creates := events.find("CHANNEL_CREATE", `"id":"`+notes+`"`)
	wantRecipients(t, "CHANNEL_CREATE", creates, owner, member)

	// A category keeps its case and goes after the two default categories.
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "Side Projects", "type": 4}), 201, -1)
	cat := r.body["id"].(string)
	if r.body["name"] != "Side Projects" || r.body["type"] != 4.0 || r.body["position"] != 2.0 {
		t.Fatalf("category: %s", r.raw)
	}
	// Children go last among their siblings of the same type.
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "plans", "type": 0, "parent_id": cat,
		"topic": "the roadmap", "nsfw": true, "rate_limit_per_user": 30}), 201, -1)
	if r.body["parent_id"] != cat || r.body["position"] != 0.0 || r.body["topic"] != "the roadmap" ||
		r.body["nsfw"] != true || r.body["rate_limit_per_user"] != 30.0 {
		t.Fatalf("child channel: %s", r.raw)
	}
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "random", "parent_id": g.textCategory}), 201, -1)
	if r.body["position"] != 1.0 {
		t.Fatalf("second text channel of Text Channels at %v, want 1", r.body["position"])
	}
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "pinned", "position": 7}), 201, -1)
	if r.body["position"] != 7.0 {
		t.Fatalf("explicit position: %s", r.raw)
	}

	// Voice: case kept, default bitrate, limits within Discord's ranges.
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "Lounge Room", "type": 2, "topic": "ignored"}), 201, -1)
	if r.body["name"] != "Lounge Room" || r.body["bitrate"] != 64000.0 || r.body["user_limit"] != 0.0 || r.body["topic"] != nil {
		t.Fatalf("voice channel: %s", r.raw)
	}
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "Studio", "type": 2, "bitrate": 96000, "user_limit": 99}), 201, -1)
	if r.body["bitrate"] != 96000.0 || r.body["user_limit"] != 99.0 {
		t.Fatalf("voice limits: %s", r.raw)
	}

	// A private channel: @everyone denied, the owner's overwrite given as
	// discordgo and older clients send it (type as a string, numbers).
	r = expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "staff", "permission_overwrites": []any{
		map[string]any{"id": g.id, "type": 0, "deny": strconv.Itoa(permView)},
		map[string]any{"id": owner.id, "type": "1", "allow": permView, "deny": nil},
	}}), 201, -1)
	staff := r.body["id"].(string)
	ows := r.body["permission_overwrites"].([]any)
	if len(ows) != 2 || ows[0].(map[string]any)["deny"] != "1024" || ows[1].(map[string]any)["allow"] != "1024" ||
		ows[1].(map[string]any)["deny"] != "0" || ows[1].(map[string]any)["type"] != 1.0 {
		t.Fatalf("overwrites: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+staff, auth(member), nil), 403, 50001)
	if slices.Contains(channelIDs(e.list(t, "GET", path, member, 200)), staff) {
		t.Fatal("private channel listed for a member who cannot view it")
	}
	wantRecipients(t, "CHANNEL_CREATE of a private channel", events.find("CHANNEL_CREATE", `"id":"`+staff+`"`), owner)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, staff)); n != 2 {
		t.Fatalf("%d overwrites stored, want 2", n)
	}
}

func TestChannelCreateValidation(t *testing.T) {
	e := testEnv(t)
	owner, stranger := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Validation Hall")
	path := "/api/v10/guilds/" + g.id + "/channels"
	ow := func(o map[string]any) map[string]any {
		return map[string]any{"name": "x", "permission_overwrites": []any{o}}
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no name", map[string]any{"type": 0}, "name"},
		{"empty name", map[string]any{"name": ""}, "name"},
		{"blank name", map[string]any{"name": "   "}, "name"},
		{"null name", map[string]any{"name": nil}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{"number name", map[string]any{"name": 12}, "name"},
		{"unsupported type", map[string]any{"name": "x", "type": 5}, "type"},
		{"string type", map[string]any{"name": "x", "type": "0"}, "type"},
		{"long topic", map[string]any{"name": "x", "topic": strings.Repeat("t", 1025)}, "topic"},
		{"slow mode too long", map[string]any{"name": "x", "rate_limit_per_user": 21601}, "rate_limit_per_user"},
		{"negative slow mode", map[string]any{"name": "x", "rate_limit_per_user": -1}, "rate_limit_per_user"},
		{"negative position", map[string]any{"name": "x", "position": -1}, "position"},
		{"low bitrate", map[string]any{"name": "x", "type": 2, "bitrate": 7999}, "bitrate"},
		{"high bitrate", map[string]any{"name": "x", "type": 2, "bitrate": 96001}, "bitrate"},
		{"user limit", map[string]any{"name": "x", "type": 2, "user_limit": 100}, "user_limit"},
		{"unknown parent", map[string]any{"name": "x", "parent_id": "1234567890123"}, "parent_id"},
		{"text parent", map[string]any{"name": "x", "parent_id": g.general}, "parent_id"},
		{"bad parent", map[string]any{"name": "x", "parent_id": "general"}, "parent_id"},
		{"category with a parent", map[string]any{"name": "x", "type": 4, "parent_id": g.textCategory}, "parent_id"},
		{"overwrites not a list", map[string]any{"name": "x", "permission_overwrites": "all"}, "permission_overwrites"},
		{"overwrite type 2", ow(map[string]any{"id": g.id, "type": 2}), "permission_overwrites.0.type"},
		{"overwrite without type", ow(map[string]any{"id": g.id}), "permission_overwrites.0.type"},
		{"overwrite without id", ow(map[string]any{"type": 0}), "permission_overwrites.0.id"},
		{"overwrite of an unknown role", ow(map[string]any{"id": "1234567890123", "type": 0}), "permission_overwrites.0.id"},
		{"overwrite of a non-member", ow(map[string]any{"id": stranger.id, "type": 1}), "permission_overwrites.0.id"},
		{"overwrite of a user as a role", ow(map[string]any{"id": owner.id, "type": 0}), "permission_overwrites.0.id"},
		{"overwrite allow not a number", ow(map[string]any{"id": g.id, "type": 0, "allow": "all"}), "permission_overwrites.0.allow"},
		{"overwrite deny negative", ow(map[string]any{"id": g.id, "type": 0, "deny": -1}), "permission_overwrites.0.deny"},
		{"duplicate overwrite", map[string]any{"name": "x", "permission_overwrites": []any{
			map[string]any{"id": g.id, "type": 0}, map[string]any{"id": g.id, "type": 0, "allow": "1024"}}}, "permission_overwrites.1.id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fieldError(t, e.do(t, "POST", path, auth(owner), tc.body), tc.field)
		})
	}
	expect(t, e.do(t, "POST", path, auth(owner), `{"name": "x",`), 400, 50109)
	expect(t, e.do(t, "POST", path, auth(owner), `["x"]`), 400, 50035)
	// Nothing was written by the failures.
	gid := id64(t, g.id)
	if n := e.count(t, `SELECT count(*) FROM channels WHERE guild_id = $1`, gid); n != 4 {
		t.Fatalf("%d channels after failed creates, want the 4 defaults", n)
	}
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites o JOIN channels c ON c.id = o.channel_id WHERE c.guild_id = $1`, gid); n != 0 {
		t.Fatalf("%d overwrites written by failed creates", n)
	}
	if n := len(e.list(t, "GET", path, owner, 200)); n != 4 {
		t.Fatalf("%d channels listed after failed creates", n)
	}
}

func TestChannelPermissionChecks(t *testing.T) {
	e := testEnv(t)
	owner, member, helper, stranger := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Permission Desk")
	e.join(t, g, member)
	e.join(t, g, helper)
	guildPath, general := "/api/v10/guilds/"+g.id+"/channels", "/api/v10/channels/"+g.general
	everyone := general + "/permissions/" + g.id

	// A plain member lacks MANAGE_CHANNELS and MANAGE_ROLES.
	expect(t, e.do(t, "POST", guildPath, auth(member), map[string]any{"name": "mine"}), 403, 50013)
	expect(t, e.do(t, "PATCH", guildPath, auth(member), []any{map[string]any{"id": g.general, "position": 3}}), 403, 50013)
	expect(t, e.do(t, "PATCH", general, auth(member), map[string]any{"name": "mine"}), 403, 50013)
	expect(t, e.do(t, "DELETE", general, auth(member), nil), 403, 50013)
	expect(t, e.do(t, "PUT", everyone, auth(member), map[string]any{"type": 0, "deny": "1024"}), 403, 50013)
	expect(t, e.do(t, "DELETE", everyone, auth(member), nil), 403, 50013)
	// A non-member is refused before anything else.
	expect(t, e.do(t, "POST", guildPath, auth(stranger), map[string]any{"name": "mine"}), 403, 50001)
	expect(t, e.do(t, "PATCH", guildPath, auth(stranger), []any{}), 403, 50001)
	expect(t, e.do(t, "PATCH", general, auth(stranger), map[string]any{"name": "mine"}), 403, 50001)
	expect(t, e.do(t, "DELETE", general, auth(stranger), nil), 403, 50001)
	expect(t, e.do(t, "PUT", everyone, auth(stranger), map[string]any{"type": 0}), 403, 50001)
	expect(t, e.do(t, "DELETE", everyone, auth(stranger), nil), 403, 50001)
	// Unknown ids.
	expect(t, e.do(t, "POST", "/api/v10/guilds/1234567890123/channels", auth(owner), map[string]any{"name": "x"}), 404, 10004)
	expect(t, e.do(t, "PATCH", "/api/v10/channels/1234567890123", auth(owner), map[string]any{"name": "x"}), 404, 10003)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/1234567890123", auth(owner), nil), 404, 10003)
	expect(t, e.do(t, "PUT", "/api/v10/channels/1234567890123/permissions/"+g.id, auth(owner), map[string]any{"type": 0}), 404, 10003)
	expect(t, e.do(t, "PUT", general+"/permissions/1234567890123", auth(owner), map[string]any{"type": 0}), 404, 10011)
	expect(t, e.do(t, "PUT", general+"/permissions/"+stranger.id, auth(owner), map[string]any{"type": 1}), 404, 10013)
	expect(t, e.do(t, "PUT", general+"/permissions/"+member.id, auth(owner), map[string]any{"type": 0}), 404, 10011)
	expect(t, e.do(t, "DELETE", everyone, auth(owner), nil), 404, 10009)
	// Bad overwrite bodies.
	fieldError(t, e.do(t, "PUT", everyone, auth(owner), map[string]any{"type": 2}), "type")
	fieldError(t, e.do(t, "PUT", everyone, auth(owner), map[string]any{}), "type")
	fieldError(t, e.do(t, "PUT", everyone, auth(owner), nil), "type")
	fieldError(t, e.do(t, "PUT", everyone, auth(owner), map[string]any{"type": 0, "allow": "lots"}), "allow")
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, g.general)); n != 0 {
		t.Fatalf("%d overwrites written by refused requests", n)
	}

	// MANAGE_CHANNELS and MANAGE_ROLES granted in #general only count there.
	expect(t, e.do(t, "PUT", general+"/permissions/"+member.id, auth(owner),
		map[string]any{"type": 1, "allow": strconv.Itoa(permManageChannels | permManageRoles)}), 204, -1)
	r := expect(t, e.do(t, "PATCH", general, auth(member), map[string]any{"name": "Town Square"}), 200, -1)
	if r.body["name"] != "town-square" {
		t.Fatalf("rename by a channel manager: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+g.voice, auth(member), map[string]any{"name": "mine"}), 403, 50013)
	expect(t, e.do(t, "POST", guildPath, auth(member), map[string]any{"name": "mine"}), 403, 50013)

	// Only bits the actor holds in the channel may be allowed or denied.
	expect(t, e.do(t, "PUT", everyone, auth(member), map[string]any{"type": 0, "allow": strconv.Itoa(permBan)}), 403, 50013)
	expect(t, e.do(t, "PUT", general+"/permissions/"+member.id, auth(member), map[string]any{"type": 1,
		"allow": strconv.Itoa(permManageChannels | permManageRoles | permAdmin)}), 403, 50013)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, g.general)); n != 1 {
		t.Fatalf("%d overwrites after refused grants, want 1", n)
	}
	expect(t, e.do(t, "PUT", everyone, auth(member), map[string]any{"type": 0, "deny": strconv.Itoa(permSend)}), 204, -1)
	// The owner may set anything; the member may then keep it unchanged
	// while changing what they hold (no longer SEND_MESSAGES: they just
	// denied it to @everyone, themselves included).
	expect(t, e.do(t, "PUT", general+"/permissions/"+helper.id, auth(owner), map[string]any{"type": 1, "allow": strconv.Itoa(permBan)}), 204, -1)
	r = expect(t, e.do(t, "PATCH", general, auth(member), map[string]any{"permission_overwrites": []any{
		map[string]any{"id": member.id, "type": 1, "allow": strconv.Itoa(permManageChannels | permManageRoles)},
		map[string]any{"id": helper.id, "type": 1, "allow": strconv.Itoa(permBan | permSend)},
	}}), 403, 50013)
	r = expect(t, e.do(t, "PATCH", general, auth(member), map[string]any{"permission_overwrites": []any{
		map[string]any{"id": member.id, "type": 1, "allow": strconv.Itoa(permManageChannels | permManageRoles)},
		map[string]any{"id": helper.id, "type": 1, "allow": strconv.Itoa(permBan | permEmbedLinks)},
	}}), 200, -1)
	if len(r.body["permission_overwrites"].([]any)) != 2 {
		t.Fatalf("replaced overwrites: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", general, auth(member), map[string]any{"permission_overwrites": []any{
		map[string]any{"id": member.id, "type": 1, "allow": strconv.Itoa(permManageChannels | permManageRoles)},
		map[string]any{"id": helper.id, "type": 1, "allow": strconv.Itoa(permBan | permEmbedLinks | permAdmin)},
	}}), 403, 50013)

	// MANAGE_CHANNELS without MANAGE_ROLES: settings yes, overwrites no.
	voice := "/api/v10/channels/" + g.voice
	expect(t, e.do(t, "PUT", voice+"/permissions/"+helper.id, auth(owner), map[string]any{"type": 1, "allow": strconv.Itoa(permManageChannels)}), 204, -1)
	expect(t, e.do(t, "PATCH", voice, auth(helper), map[string]any{"name": "Hangout"}), 200, -1)
	expect(t, e.do(t, "PATCH", voice, auth(helper), map[string]any{"permission_overwrites": []any{}}), 403, 50013)
	expect(t, e.do(t, "PUT", voice+"/permissions/"+g.id, auth(helper), map[string]any{"type": 0}), 403, 50013)
	expect(t, e.do(t, "DELETE", voice+"/permissions/"+helper.id, auth(helper), nil), 403, 50013)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, g.voice)); n != 1 {
		t.Fatalf("%d overwrites on the voice channel, want 1", n)
	}
}

func TestOverwriteVisibility(t *testing.T) {
	e := testEnv(t)
	owner, member, other := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Visibility Lab")
	e.join(t, g, member)
	e.join(t, g, other)
	general, list := "/api/v10/channels/"+g.general, "/api/v10/guilds/"+g.id+"/channels"
	listed := func(who account) bool {
		return slices.Contains(channelIDs(e.list(t, "GET", list, who, 200)), g.general)
	}
	visible := func(who account) bool {
		r := e.do(t, "GET", general, auth(who), nil)
		if r.status == 403 {
			expect(t, r, 403, 50001)
		} else {
			expect(t, r, 200, -1)
		}
		if listed(who) != (r.status == 200) {
			t.Fatalf("GET and the channel list disagree for %s", who.username)
		}
		return r.status == 200
	}

	// Deny VIEW_CHANNEL to @everyone: members lose #general at once.
	upd, cre, del := since(t, "CHANNEL_UPDATE", g.general), since(t, "CHANNEL_CREATE", g.general), since(t, "CHANNEL_DELETE", g.general)
	expect(t, e.do(t, "PUT", general+"/permissions/"+g.id, auth(owner), map[string]any{"type": 0, "deny": strconv.Itoa(permView)}), 204, -1)
	if visible(member) || visible(other) || !visible(owner) {
		t.Fatal("after denying @everyone: only the owner should see #general")
	}
	expect(t, e.do(t, "POST", general+"/invites", auth(member), map[string]any{}), 403, 50001)
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner)
	wantRecipients(t, "CHANNEL_DELETE", del(), member, other)
	wantRecipients(t, "CHANNEL_CREATE", cre())

	// A member overwrite (type as a string, allow as a number) brings it
	// back for that member only.
	upd, cre, del = since(t, "CHANNEL_UPDATE", g.general), since(t, "CHANNEL_CREATE", g.general), since(t, "CHANNEL_DELETE", g.general)
	expect(t, e.do(t, "PUT", general+"/permissions/"+member.id, auth(owner), map[string]any{"type": "1", "allow": permView}), 204, -1)
	if !visible(member) || visible(other) {
		t.Fatal("member overwrite: the member should see #general, the other not")
	}
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner)
	wantRecipients(t, "CHANNEL_CREATE", cre(), member)
	wantRecipients(t, "CHANNEL_DELETE", del())

	// A role allow is beaten by a member deny.
	expect(t, e.do(t, "PUT", general+"/permissions/"+g.id, auth(owner), map[string]any{"type": 0, "allow": strconv.Itoa(permView)}), 204, -1)
	upd, del = since(t, "CHANNEL_UPDATE", g.general), since(t, "CHANNEL_DELETE", g.general)
	expect(t, e.do(t, "PUT", general+"/permissions/"+member.id, auth(owner), map[string]any{"type": 1, "deny": strconv.Itoa(permView)}), 204, -1)
	if visible(member) || !visible(other) {
		t.Fatal("member deny should beat the @everyone allow")
	}
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner, other)
	wantRecipients(t, "CHANNEL_DELETE", del(), member)

	// Deleting the member overwrite restores the role's allow.
	cre = since(t, "CHANNEL_CREATE", g.general)
	expect(t, e.do(t, "DELETE", general+"/permissions/"+member.id, auth(owner), nil), 204, -1)
	if !visible(member) {
		t.Fatal("after deleting the member overwrite the member should see #general")
	}
	wantRecipients(t, "CHANNEL_CREATE", cre(), member)
	expect(t, e.do(t, "DELETE", general+"/permissions/"+member.id, auth(owner), nil), 404, 10009)

	r := expect(t, e.do(t, "GET", general, auth(member), nil), 200, -1)
	ows := r.body["permission_overwrites"].([]any)
	if len(ows) != 1 || ows[0].(map[string]any)["id"] != g.id || ows[0].(map[string]any)["allow"] != "1024" ||
		ows[0].(map[string]any)["deny"] != "0" {
		t.Fatalf("overwrites: %s", r.raw)
	}
	var allow, deny int64
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT allow, deny FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2`,
		id64(t, g.general), id64(t, g.id)).Scan(&allow, &deny); err != nil || allow != permView || deny != 0 {
		t.Fatalf("stored @everyone overwrite %d/%d (%v)", allow, deny, err)
	}
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, g.general)); n != 1 {
		t.Fatalf("%d stored overwrites, want 1", n)
	}
}

func TestChannelUpdate(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Update Room")
	e.join(t, g, member)
	r := expect(t, e.do(t, "POST", "/api/v10/guilds/"+g.id+"/channels", auth(owner),
		map[string]any{"name": "work log", "parent_id": g.textCategory}), 201, -1)
	id := r.body["id"].(string)
	path := "/api/v10/channels/" + id

	upd := since(t, "CHANNEL_UPDATE", id)
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"name": "Weekly Report", "topic": "every friday",
		"nsfw": true, "rate_limit_per_user": 60, "position": 3, "type": 0}), 200, -1)
	if r.body["name"] != "weekly-report" || r.body["topic"] != "every friday" || r.body["nsfw"] != true ||
		r.body["rate_limit_per_user"] != 60.0 || r.body["position"] != 3.0 || r.body["parent_id"] != g.textCategory {
		t.Fatalf("update: %s", r.raw)
	}
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner, member)
	r = expect(t, e.do(t, "GET", path, auth(member), nil), 200, -1)
	if r.body["name"] != "weekly-report" || r.body["topic"] != "every friday" {
		t.Fatalf("read after update: %s", r.raw)
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND name = 'weekly-report' AND topic = 'every friday'
		AND nsfw AND rate_limit_per_user = 60 AND position = 3`, id64(t, id)); n != 1 {
		t.Fatal("update not stored")
	}

	// parent_id null removes the parent; topic null clears the topic.
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"parent_id": nil, "topic": nil}), 200, -1)
	if r.body["parent_id"] != nil || r.body["topic"] != nil {
		t.Fatalf("parent and topic not cleared: %s", r.raw)
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND parent_id IS NULL AND topic IS NULL`, id64(t, id)); n != 1 {
		t.Fatal("cleared parent not stored")
	}
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"parent_id": g.textCategory}), 200, -1)
	if r.body["parent_id"] != g.textCategory {
		t.Fatalf("parent not set: %s", r.raw)
	}

	// Invalid changes name their field and change nothing.
	cases := []struct {
		name, path string
		body       any
		field      string
	}{
		{"text to voice", path, map[string]any{"type": 2}, "type"},
		{"text to category", path, map[string]any{"type": 4}, "type"},
		{"empty name", path, map[string]any{"name": ""}, "name"},
		{"null name", path, map[string]any{"name": nil}, "name"},
		{"long name", path, map[string]any{"name": strings.Repeat("n", 101)}, "name"},
		{"long topic", path, map[string]any{"topic": strings.Repeat("t", 1025)}, "topic"},
		{"slow mode", path, map[string]any{"rate_limit_per_user": 21601}, "rate_limit_per_user"},
		{"unknown parent", path, map[string]any{"parent_id": "1234567890123"}, "parent_id"},
		{"voice to text", "/api/v10/channels/" + g.voice, map[string]any{"type": 0}, "type"},
		{"low bitrate", "/api/v10/channels/" + g.voice, map[string]any{"bitrate": 500}, "bitrate"},
		{"user limit", "/api/v10/channels/" + g.voice, map[string]any{"user_limit": 100}, "user_limit"},
		{"category parent", "/api/v10/channels/" + g.textCategory, map[string]any{"parent_id": g.textCategory}, "parent_id"},
		{"overwrite of a non-member", path, map[string]any{"permission_overwrites": []any{
			map[string]any{"id": "1234567890123", "type": 1}}}, "permission_overwrites.0.id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fieldError(t, e.do(t, "PATCH", tc.path, auth(owner), tc.body), tc.field)
		})
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND name = 'weekly-report' AND type = 0 AND parent_id = $2`,
		id64(t, id), id64(t, g.textCategory)); n != 1 {
		t.Fatal("a refused update changed the stored channel")
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND bitrate = 64000 AND user_limit = 0`, id64(t, g.voice)); n != 1 {
		t.Fatal("a refused update changed the voice channel")
	}

	// Voice and category settings.
	r = expect(t, e.do(t, "PATCH", "/api/v10/channels/"+g.voice, auth(owner), map[string]any{"bitrate": 8000, "user_limit": 5}), 200, -1)
	if r.body["bitrate"] != 8000.0 || r.body["user_limit"] != 5.0 {
		t.Fatalf("voice update: %s", r.raw)
	}
	r = expect(t, e.do(t, "PATCH", "/api/v10/channels/"+g.textCategory, auth(owner), map[string]any{"name": "Big Ideas", "parent_id": nil}), 200, -1)
	if r.body["name"] != "Big Ideas" {
		t.Fatalf("category rename: %s", r.raw)
	}

	// permission_overwrites replaces the whole set; viewers that lose the
	// channel get CHANNEL_DELETE, those who gain it CHANNEL_CREATE.
	upd, cre, del := since(t, "CHANNEL_UPDATE", id), since(t, "CHANNEL_CREATE", id), since(t, "CHANNEL_DELETE", id)
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"permission_overwrites": []any{
		map[string]any{"id": g.id, "type": 0, "deny": strconv.Itoa(permView)}}}), 200, -1)
	if len(r.body["permission_overwrites"].([]any)) != 1 {
		t.Fatalf("overwrites: %s", r.raw)
	}
	expect(t, e.do(t, "GET", path, auth(member), nil), 403, 50001)
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner)
	wantRecipients(t, "CHANNEL_DELETE", del(), member)
	wantRecipients(t, "CHANNEL_CREATE", cre())

	upd, cre = since(t, "CHANNEL_UPDATE", id), since(t, "CHANNEL_CREATE", id)
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"permission_overwrites": []any{
		map[string]any{"id": member.id, "type": 1, "allow": strconv.Itoa(permSend)}}}), 200, -1)
	ows := r.body["permission_overwrites"].([]any)
	if len(ows) != 1 || ows[0].(map[string]any)["id"] != member.id {
		t.Fatalf("overwrites not replaced: %s", r.raw)
	}
	expect(t, e.do(t, "GET", path, auth(member), nil), 200, -1)
	wantRecipients(t, "CHANNEL_UPDATE", upd(), owner)
	wantRecipients(t, "CHANNEL_CREATE", cre(), member)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2 AND allow = $3`,
		id64(t, id), id64(t, member.id), permSend); n != 1 {
		t.Fatal("replaced overwrite not stored")
	}
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, id)); n != 1 {
		t.Fatalf("%d stored overwrites, want 1", n)
	}
	// null leaves them; [] clears them.
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"permission_overwrites": nil}), 200, -1)
	if len(r.body["permission_overwrites"].([]any)) != 1 {
		t.Fatalf("null changed the overwrites: %s", r.raw)
	}
	r = expect(t, e.do(t, "PATCH", path, auth(owner), map[string]any{"permission_overwrites": []any{}}), 200, -1)
	if len(r.body["permission_overwrites"].([]any)) != 0 || e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, id)) != 0 {
		t.Fatalf("[] did not clear the overwrites: %s", r.raw)
	}
}

func TestChannelPositions(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Seating Plan")
	e.join(t, g, member)
	guildPath := "/api/v10/guilds/" + g.id + "/channels"
	create := func(body map[string]any) string {
		return expect(t, e.do(t, "POST", guildPath, auth(owner), body), 201, -1).body["id"].(string)
	}
	a := create(map[string]any{"name": "alpha", "parent_id": g.textCategory})
	b := create(map[string]any{"name": "beta", "parent_id": g.textCategory})
	positions := func() map[string]float64 {
		out := map[string]float64{}
		for _, ch := range e.list(t, "GET", guildPath, owner, 200) {
			out[ch["id"].(string)] = ch["position"].(float64)
		}
		return out
	}
	if p := positions(); p[a] != 1 || p[b] != 2 {
		t.Fatalf("initial positions %v", p)
	}

	updA, updB, updGeneral := since(t, "CHANNEL_UPDATE", a), since(t, "CHANNEL_UPDATE", b), since(t, "CHANNEL_UPDATE", g.general)
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), []any{
		map[string]any{"id": a, "position": 2}, map[string]any{"id": b, "position": 1},
		map[string]any{"id": g.general, "position": 0}}), 204, -1)
	if p := positions(); p[a] != 2 || p[b] != 1 || p[g.general] != 0 {
		t.Fatalf("positions after the swap %v", p)
	}
	wantRecipients(t, "CHANNEL_UPDATE alpha", updA(), owner, member)
	wantRecipients(t, "CHANNEL_UPDATE beta", updB(), owner, member)
	wantRecipients(t, "CHANNEL_UPDATE of an unchanged channel", updGeneral())

	// All or nothing: one bad entry and nothing moves.
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{
		map[string]any{"id": a, "position": 5}, map[string]any{"id": "1234567890123", "position": 0}}), "1.id")
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"id": a, "position": 5}, map[string]any{"id": a}}), "1.id")
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"position": 5}}), "0.id")
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"id": a, "position": -2}}), "0.position")
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"id": g.textCategory, "parent_id": g.textCategory}}), "0.parent_id")
	fieldError(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"id": a, "parent_id": g.general}}), "0.parent_id")
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), map[string]any{"id": a}), 400, 50035)
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), nil), 400, 50035)
	if p := positions(); p[a] != 2 {
		t.Fatalf("a refused reorder moved alpha to %v", p[a])
	}
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND position = 2`, id64(t, a)); n != 1 {
		t.Fatal("a refused reorder changed the stored position")
	}
	expect(t, e.do(t, "PATCH", guildPath, auth(member), []any{map[string]any{"id": a, "position": 0}}), 403, 50013)

	// Moving out of a category, then into a private one with
	// lock_permissions: the overwrites follow the category, and the
	// member, who cannot see it, gets CHANNEL_DELETE instead of an update.
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), []any{map[string]any{"id": a, "parent_id": nil}}), 204, -1)
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND parent_id IS NULL`, id64(t, a)); n != 1 {
		t.Fatal("parent removal not stored")
	}
	private := create(map[string]any{"name": "Private", "type": 4, "permission_overwrites": []any{
		map[string]any{"id": g.id, "type": 0, "deny": strconv.Itoa(permView)}}})
	updA, delA := since(t, "CHANNEL_UPDATE", a), since(t, "CHANNEL_DELETE", a)
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), []any{
		map[string]any{"id": a, "parent_id": private, "lock_permissions": true, "position": 0}}), 204, -1)
	r := expect(t, e.do(t, "GET", "/api/v10/channels/"+a, auth(owner), nil), 200, -1)
	ows := r.body["permission_overwrites"].([]any)
	if r.body["parent_id"] != private || len(ows) != 1 || ows[0].(map[string]any)["deny"] != "1024" {
		t.Fatalf("locked move: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+a, auth(member), nil), 403, 50001)
	wantRecipients(t, "CHANNEL_UPDATE of a now hidden channel", updA(), owner)
	wantRecipients(t, "CHANNEL_DELETE of a now hidden channel", delA(), member)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2`, id64(t, a), id64(t, g.id)); n != 1 {
		t.Fatal("synced overwrites not stored")
	}
	// An empty list changes nothing.
	expect(t, e.do(t, "PATCH", guildPath, auth(owner), []any{}), 204, -1)
}

func TestChannelDelete(t *testing.T) {
	e := testEnv(t)
	owner, member, late := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Demolition Co")
	e.join(t, g, member)
	guildPath := "/api/v10/guilds/" + g.id + "/channels"
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", auth(owner), map[string]any{"unique": true}), 200, -1)
	code := inv.body["code"].(string)

	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general, auth(member), nil), 403, 50013)

	// A private channel: only its viewers hear of its deletion.
	secret := expect(t, e.do(t, "POST", guildPath, auth(owner), map[string]any{"name": "secret", "permission_overwrites": []any{
		map[string]any{"id": g.id, "type": 0, "deny": strconv.Itoa(permView)}}}), 201, -1).body["id"].(string)
	del := since(t, "CHANNEL_DELETE", secret)
	r := expect(t, e.do(t, "DELETE", "/api/v10/channels/"+secret, auth(owner), nil), 200, -1)
	if r.body["id"] != secret || r.body["name"] != "secret" {
		t.Fatalf("deleted channel answer: %s", r.raw)
	}
	wantRecipients(t, "CHANNEL_DELETE", del(), owner)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+secret, auth(owner), nil), 404, 10003)
	if n := e.count(t, `SELECT count(*) FROM channel_overwrites WHERE channel_id = $1`, id64(t, secret)); n != 0 {
		t.Fatalf("%d overwrites left by a deleted channel", n)
	}

	// Deleting a category frees its children.
	upd := since(t, "CHANNEL_UPDATE", g.general)
	r = expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.textCategory, auth(owner), nil), 200, -1)
	if r.body["type"] != 4.0 {
		t.Fatalf("deleted category answer: %s", r.raw)
	}
	r = expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general, auth(member), nil), 200, -1)
	if r.body["parent_id"] != nil {
		t.Fatalf("child keeps a deleted parent: %s", r.raw)
	}
	wantRecipients(t, "CHANNEL_UPDATE of the child", upd(), owner, member)
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1 AND parent_id IS NULL`, id64(t, g.general)); n != 1 {
		t.Fatal("child's parent removal not stored")
	}

	// Deleting the system channel clears it and takes its invites along.
	del = since(t, "CHANNEL_DELETE", g.general)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general, auth(owner), nil), 200, -1)
	wantRecipients(t, "CHANNEL_DELETE", del(), owner, member)
	r = expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, auth(member), nil), 200, -1)
	if r.body["system_channel_id"] != nil {
		t.Fatalf("system channel still set: %s", r.raw)
	}
	if n := e.count(t, `SELECT count(*) FROM guilds WHERE id = $1 AND system_channel_id IS NULL`, id64(t, g.id)); n != 1 {
		t.Fatal("cleared system channel not stored")
	}
	if n := e.count(t, `SELECT count(*) FROM invites WHERE code = $1`, code); n != 0 {
		t.Fatal("invite of a deleted channel left")
	}
	if len(events.find("INVITE_DELETE", code)) != 1 {
		t.Fatal("no INVITE_DELETE for the deleted channel's invite")
	}
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, auth(late), nil), 404, 10006)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general, auth(owner), nil), 404, 10003)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general, auth(owner), nil), 404, 10003)
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+g.general, auth(owner), map[string]any{"name": "back"}), 404, 10003)
	left := channelIDs(e.list(t, "GET", guildPath, owner, 200))
	if len(left) != 2 || slices.Contains(left, g.general) {
		t.Fatalf("channels left: %v", left)
	}
}

// TestChannelLimit fills a guild to Discord's 500 channels through the API.
func TestChannelLimit(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Full House")
	path := "/api/v10/guilds/" + g.id + "/channels"
	start := time.Now()
	for i := 4; i < 500; i++ {
		expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "c" + strconv.Itoa(i)}), 201, -1)
	}
	t.Logf("496 channels created in %v", time.Since(start))
	expect(t, e.do(t, "POST", path, auth(owner), map[string]any{"name": "one too many"}), 400, 30013)
	if n := e.count(t, `SELECT count(*) FROM channels WHERE guild_id = $1`, id64(t, g.id)); n != 500 {
		t.Fatalf("%d channels stored, want 500", n)
	}
}
