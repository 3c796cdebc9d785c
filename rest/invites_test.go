package rest_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/accordchat/accord/persistence"
)

// invite creates a unique invite of ch as who, with extra body fields.
func (e *env) newInvite(t *testing.T, ch string, who account, extra map[string]any) string {
	t.Helper()
	body := map[string]any{"unique": true}
	for k, v := range extra {
		body[k] = v
	}
	r := expect(t, e.do(t, "POST", "/api/v10/channels/"+ch+"/invites", "Bearer "+who.access, body), 200, -1)
	return r.body["code"].(string)
}

func inviteCodes(invs []map[string]any) []string {
	out := make([]string, 0, len(invs))
	for _, inv := range invs {
		out = append(out, inv["code"].(string))
	}
	slices.Sort(out)
	return out
}

func sortedCodes(s ...string) []string { slices.Sort(s); return s }

func inviteUserID(t *testing.T, a account) int64 {
	t.Helper()
	id, err := strconv.ParseInt(a.id, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestInviteLists(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Invite Lists")
	a := e.newInvite(t, g.general, owner, map[string]any{"max_age": 3600, "max_uses": 5, "temporary": true})
	b := e.newInvite(t, g.general, owner, map[string]any{"max_age": 0})
	v := e.newInvite(t, g.voice, owner, nil)
	spent := e.newInvite(t, g.general, owner, map[string]any{"max_uses": 1})
	expect(t, e.do(t, "POST", "/api/v10/invites/"+spent, "Bearer "+member.access, nil), 200, -1)

	general := e.list(t, "GET", "/api/v10/channels/"+g.general+"/invites", owner, 200)
	if got, want := inviteCodes(general), sortedCodes(a, b); !slices.Equal(got, want) {
		t.Fatalf("channel invites %v, want %v (spent %s must be gone)", got, want, spent)
	}
	for _, inv := range general {
		if inv["code"] != a {
			continue
		}
		if inv["uses"] != 0.0 || inv["max_uses"] != 5.0 || inv["max_age"] != 3600.0 || inv["temporary"] != true ||
			inv["created_at"] == nil || inv["expires_at"] == nil {
			t.Fatalf("invite metadata: %v", inv)
		}
		if inv["inviter"].(map[string]any)["id"] != owner.id || inv["channel"].(map[string]any)["id"] != g.general ||
			inv["guild"].(map[string]any)["id"] != g.id {
			t.Fatalf("invite objects: %v", inv)
		}
	}
	all := e.list(t, "GET", "/api/v10/guilds/"+g.id+"/invites", owner, 200)
	if got, want := inviteCodes(all), sortedCodes(a, b, v); !slices.Equal(got, want) {
		t.Fatalf("guild invites %v, want %v", got, want)
	}
	for _, inv := range all {
		if _, ok := inv["uses"]; !ok {
			t.Fatalf("guild invite without metadata: %v", inv)
		}
	}

	// A member without MANAGE_CHANNELS / MANAGE_GUILD, a stranger, unknowns.
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/invites", "Bearer "+member.access, nil), 403, 50013)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"/invites", "Bearer "+member.access, nil), 403, 50013)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/invites", "Bearer "+stranger.access, nil), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"/invites", "Bearer "+stranger.access, nil), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/channels/1234567890123/invites", "Bearer "+owner.access, nil), 404, 10003)
	expect(t, e.do(t, "GET", "/api/v10/guilds/1234567890123/invites", "Bearer "+owner.access, nil), 404, 10004)
	// A channel without invites lists [] rather than null.
	if r := e.do(t, "GET", "/api/v10/channels/"+g.textCategory+"/invites", "Bearer "+owner.access, nil); r.status != 200 || r.raw != "[]" {
		t.Fatalf("empty list: %d %s", r.status, r.raw)
	}
}

func TestInviteGet(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Invite Get")
	e.join(t, g, member)
	code := e.newInvite(t, g.general, owner, map[string]any{"max_uses": 3})

	for _, who := range []string{"Bearer " + member.access, "Bearer " + stranger.access, ""} {
		r := expect(t, e.do(t, "GET", "/api/v10/invites/"+code, who, nil), 200, -1)
		if r.body["code"] != code || r.body["guild"].(map[string]any)["id"] != g.id ||
			r.body["channel"].(map[string]any)["id"] != g.general || r.body["inviter"].(map[string]any)["id"] != owner.id {
			t.Fatalf("invite: %s", r.raw)
		}
		for _, meta := range []string{"uses", "max_uses", "max_age", "temporary", "created_at", "approximate_member_count"} {
			if _, ok := r.body[meta]; ok {
				t.Fatalf("GET /invites answered %s: %s", meta, r.raw)
			}
		}
		if r.body["expires_at"] == nil {
			t.Fatalf("no expires_at: %s", r.raw)
		}
	}
	for _, base := range []string{"/api", "/api/v9", "/api/v10"} {
		r := expect(t, e.do(t, "GET", base+"/invites/"+code+"?with_counts=true", "", nil), 200, -1)
		if r.body["approximate_member_count"] != 2.0 {
			t.Fatalf("with_counts: %s", r.raw)
		}
		if _, ok := r.body["approximate_presence_count"]; ok {
			t.Fatalf("presence count without presences: %s", r.raw)
		}
	}
	// A presented token must be valid; unknown codes are 404 for everyone.
	expect(t, e.do(t, "GET", "/api/v10/invites/"+code, "Bearer not-a-token", nil), 401, 0)
	expect(t, e.do(t, "GET", "/api/v10/invites/nosuchcode", "", nil), 404, 10006)
	expect(t, e.do(t, "GET", "/api/v10/invites/nosuchcode", "Bearer "+member.access, nil), 404, 10006)
	// Only GET is open: joining and deleting still need a token.
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "", nil), 401, 0)
	expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "", nil), 401, 0)
}

func TestInviteDelete(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Invite Delete")
	e.join(t, g, member)
	code := e.newInvite(t, g.general, member, nil) // members may create invites by default

	expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "Bearer "+stranger.access, nil), 403, 50001)
	// Its creator still needs MANAGE_CHANNELS or MANAGE_GUILD.
	expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "Bearer "+member.access, nil), 403, 50013)
	r := expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "Bearer "+owner.access, nil), 200, -1)
	if r.body["code"] != code || r.body["channel"].(map[string]any)["id"] != g.general {
		t.Fatalf("deleted invite: %s", r.raw)
	}
	if _, ok := r.body["uses"]; ok {
		t.Fatalf("deleted invite with metadata: %s", r.raw)
	}
	evs := events.find("INVITE_DELETE", `"code":"`+code+`"`)
	if len(evs) != 1 {
		t.Fatalf("%d INVITE_DELETE events", len(evs))
	}
	if !slices.Equal(evs[0].Recipients, []int64{inviteUserID(t, owner)}) {
		t.Fatalf("INVITE_DELETE went to %v; only the owner manages #general", evs[0].Recipients)
	}
	if string(evs[0].Data) != `{"channel_id":"`+g.general+`","code":"`+code+`","guild_id":"`+g.id+`"}` {
		t.Fatalf("INVITE_DELETE data: %s", evs[0].Data)
	}
	expect(t, e.do(t, "GET", "/api/v10/invites/"+code, "", nil), 404, 10006)
	expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "Bearer "+owner.access, nil), 404, 10006)
	late := e.register(t)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+late.access, nil), 404, 10006)

	// The last use of a limited invite deletes it, with its event.
	once := e.newInvite(t, g.general, owner, map[string]any{"max_uses": 1})
	expect(t, e.do(t, "POST", "/api/v10/invites/"+once, "Bearer "+late.access, nil), 200, -1)
	if len(events.find("INVITE_DELETE", `"code":"`+once+`"`)) != 1 {
		t.Fatal("no INVITE_DELETE for a spent invite")
	}
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM invites WHERE code = $1`, once).Scan(&n); err != nil || n != 0 {
		t.Fatalf("spent invite still stored (%d, %v)", n, err)
	}
}

func TestInviteExpiry(t *testing.T) {
	e := testEnv(t)
	owner, joiner := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Invite Expiry")
	code := e.newInvite(t, g.general, owner, map[string]any{"max_age": 1})
	r := expect(t, e.do(t, "GET", "/api/v10/invites/"+code, "", nil), 200, -1)
	exp, err := time.Parse(time.RFC3339Nano, r.body["expires_at"].(string))
	if err != nil || exp.Before(time.Now()) || exp.After(time.Now().Add(2*time.Second)) {
		t.Fatalf("expires_at %v (%v)", r.body["expires_at"], err)
	}
	time.Sleep(time.Until(exp) + 50*time.Millisecond)

	expect(t, e.do(t, "GET", "/api/v10/invites/"+code, "", nil), 404, 10006)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+joiner.access, nil), 404, 10006)
	expect(t, e.do(t, "DELETE", "/api/v10/invites/"+code, "Bearer "+owner.access, nil), 404, 10006)
	if got := e.list(t, "GET", "/api/v10/channels/"+g.general+"/invites", owner, 200); len(got) != 0 {
		t.Fatalf("expired invite listed: %v", got)
	}
	if got := e.list(t, "GET", "/api/v10/guilds/"+g.id+"/invites", owner, 200); len(got) != 0 {
		t.Fatalf("expired invite listed: %v", got)
	}
	// An expired invite is not handed out again for an equal request, and
	// the next invite write deletes it.
	r = expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+owner.access, map[string]any{"max_age": 1}), 200, -1)
	if r.body["code"] == code {
		t.Fatal("expired invite handed out again")
	}
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM invites WHERE code = $1`, code).Scan(&n); err != nil || n != 0 {
		t.Fatalf("expired invite still stored (%d, %v)", n, err)
	}
}

// TestInviteCodesAreGlobal: a code is unique across guilds, and writing an
// invite never rewrites another guild's.
func TestInviteCodesAreGlobal(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	ga, gb := e.createGuild(t, a, "Codes A"), e.createGuild(t, b, "Codes B")
	code := e.newInvite(t, ga.general, a, map[string]any{"max_uses": 10})
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+b.access, nil), 200, -1)

	gbID, _ := strconv.ParseInt(gb.id, 10, 64)
	chID, _ := strconv.ParseInt(gb.general, 10, 64)
	// Written as guild B's owner would (taking its epoch over).
	epoch, err := e.store.AcquireGuildEpoch(context.Background(), gbID)
	if err != nil {
		t.Fatal(err)
	}
	err = e.store.WriteGuild(context.Background(), gbID, epoch, func(w *persistence.GuildWriter) error {
		return w.PutInvite(persistence.Invite{Code: code, GuildID: gbID, ChannelID: chID, InviterID: inviteUserID(t, b), CreatedAt: time.Now()})
	})
	if !errors.Is(err, persistence.ErrInviteCodeTaken) {
		t.Fatalf("PutInvite over another guild's code: %v", err)
	}
	var guildID int64
	var uses int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT guild_id, uses FROM invites WHERE code = $1`, code).Scan(&guildID, &uses); err != nil ||
		strconv.FormatInt(guildID, 10) != ga.id || uses != 1 {
		t.Fatalf("guild A's invite changed: guild %d, uses %d (%v)", guildID, uses, err)
	}
}
