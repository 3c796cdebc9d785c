package actors

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Member operations: list, search, read, modify (by moderators and by the
// member), kick, and role grants.
//
// Who may do what, as on Discord:
//   - a nickname, a timeout or a kick needs the action's permission and the
//     role hierarchy over the target ([guildState.canActOn]): nobody acts on
//     the owner, the owner acts on everyone else, anyone else only on members
//     whose highest role is below their own. Members change their own
//     nickname with CHANGE_NICKNAME (or MANAGE_NICKNAMES); the owner always
//     may.
//   - granting or revoking a role needs MANAGE_ROLES and that role strictly
//     below the actor's highest role; the target's rank does not matter (a
//     reaction-role bot gives roles to members above it, the owner included).
func init() {
	registerGuildOps(map[string]guildOp{
		"members.list":       {run: listMembers},
		"members.search":     {run: searchMembers},
		"member.get":         {run: getMember},
		"member.update":      {run: updateMember},
		"member.update_me":   {run: updateMe},
		"member.kick":        {run: kickMember},
		"member.role_add":    {run: addMemberRole},
		"member.role_remove": {run: removeMemberRole},
	})
}

// Discord's limits on members.
const (
	maxNick       = 32
	maxMemberPage = 1000
	maxTimeout    = 28 * 24 * time.Hour
)

// limit parses a limit query parameter between 1 and hi, def when absent.
func (c *gcall) limit(def, hi int) (int, *discord.Error) {
	v, ok := c.params["limit"]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > hi {
		return 0, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 1 and "+strconv.Itoa(hi)+".")
	}
	return n, nil
}

// cursor parses a snowflake query parameter; 0 when absent.
func (c *gcall) cursor(name string) (int64, *discord.Error) {
	v, ok := c.params[name]
	if !ok || v == "" {
		return 0, nil
	}
	id, err := snowflake.Parse(v)
	if err != nil {
		return 0, discord.Invalid(name, "NUMBER_TYPE_COERCE", "Value \""+v+"\" is not snowflake.")
	}
	return int64(id), nil
}

// targetMember resolves the user_id parameter ("@me" is the actor) to a
// member: 50001 when the actor is no member, 10007 when the target is none.
func (c *gcall) targetMember() (*persistence.Member, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return nil, discord.ErrMissingAccess
	}
	id, ok := c.id("user_id")
	if c.params["user_id"] == "@me" {
		id, ok = c.actor, true
	}
	m := c.st.members[id]
	if !ok || m == nil {
		return nil, discord.ErrUnknownMember
	}
	return m, nil
}

// memberEvent is a member object with its guild_id, the payload of
// GUILD_MEMBER_ADD and GUILD_MEMBER_UPDATE.
func (c *gcall) memberEvent(m *persistence.Member) discord.Member {
	out := wireMember(m)
	gid := snowflake.ID(c.g.id)
	out.GuildID = &gid
	return out
}

func listMembers(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	limit, e := c.limit(1, maxMemberPage)
	if e != nil {
		return reply{}, e
	}
	after, e := c.cursor("after")
	if e != nil {
		return reply{}, e
	}
	out := []discord.Member{}
	for _, id := range c.st.memberIDs() {
		if id <= after {
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, wireMember(c.st.members[id]))
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// searchMembers matches the query as a case-insensitive prefix of the
// username, the global name or the nickname; results go by user id.
func searchMembers(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	query := strings.ToLower(c.params["query"])
	if query == "" {
		return reply{}, discord.Invalid("query", "BASE_TYPE_REQUIRED", "This field is required")
	}
	limit, e := c.limit(1, maxMemberPage)
	if e != nil {
		return reply{}, e
	}
	match := func(s *string) bool { return s != nil && strings.HasPrefix(strings.ToLower(*s), query) }
	out := []discord.Member{}
	for _, id := range c.st.memberIDs() {
		if len(out) == limit {
			break
		}
		m := c.st.members[id]
		if match(&m.User.Username) || match(m.User.GlobalName) || match(m.Nick) {
			out = append(out, wireMember(m))
		}
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func getMember(c *gcall) (reply, *discord.Error) {
	m, e := c.targetMember()
	if e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusOK, body: wireMember(m)}, nil
}

// memberBody is the body of PATCH /guilds/{id}/members/{user_id}. Other
// Discord fields (mute, deaf, channel_id, flags) concern voice and
// onboarding, which Accord does not have yet; they are ignored.
type memberBody struct {
	Nick                       nullableJSON[string]            `json:"nick"`
	Roles                      nullableJSON[[]json.RawMessage] `json:"roles"`
	CommunicationDisabledUntil nullableJSON[string]            `json:"communication_disabled_until"`
}

// validNick applies a nick field to next: null or "" clears it.
func validNick(fe discord.FieldErrors, n nullableJSON[string], next *persistence.Member) {
	if n.Null || (n.Set && strings.TrimSpace(n.Value) == "") {
		next.Nick = nil
		return
	}
	nick := strings.TrimSpace(n.Value)
	if utf8.RuneCountInString(nick) > maxNick {
		fe.Add("nick", "BASE_TYPE_BAD_LENGTH", "Must be "+strconv.Itoa(maxNick)+" or fewer in length.")
	}
	next.Nick = &nick
}

func sameNick(a, b *string) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// copyMember copies m with its own role slice.
func copyMember(m *persistence.Member) persistence.Member {
	next := *m
	next.Roles = append([]int64{}, m.Roles...)
	return next
}

// mayRename reports whether the actor may set target's nickname.
func (c *gcall) mayRename(target int64) bool {
	perms := c.st.guildPerms(c.actor, c.now)
	if target == c.actor {
		return perms.Has(permissions.ChangeNickname) || perms.Has(permissions.ManageNicknames)
	}
	return perms.Has(permissions.ManageNicknames) && c.st.canActOn(c.actor, target)
}

func updateMember(c *gcall) (reply, *discord.Error) {
	m, e := c.targetMember()
	if e != nil {
		return reply{}, e
	}
	var body memberBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	target := m.User.ID
	next := copyMember(m)
	fe := discord.FieldErrors{}

	nickGiven := body.Nick.Set || body.Nick.Null
	if nickGiven {
		validNick(fe, body.Nick, &next)
	}

	var changedRoles []int64 // granted or revoked
	if body.Roles.Set {
		roles := make([]int64, 0, len(body.Roles.Value))
		want := map[int64]bool{}
		for i, raw := range body.Roles.Value {
			var id snowflake.ID
			if err := json.Unmarshal(raw, &id); err != nil || c.st.roles[int64(id)] == nil || int64(id) == c.g.id {
				fe.Add("roles."+strconv.Itoa(i), "ROLE_INVALID", "Unknown role.")
				continue
			}
			if !want[int64(id)] {
				want[int64(id)] = true
				roles = append(roles, int64(id))
			}
		}
		for _, id := range roles {
			if !hasRole(m.Roles, id) {
				changedRoles = append(changedRoles, id)
			}
		}
		for _, id := range m.Roles {
			if !want[id] && c.st.roles[id] != nil {
				changedRoles = append(changedRoles, id)
			}
		}
		next.Roles = roles
	}

	timeoutGiven := body.CommunicationDisabledUntil.Set || body.CommunicationDisabledUntil.Null
	var timeout *time.Time
	if body.CommunicationDisabledUntil.Set {
		t, err := time.Parse(time.RFC3339Nano, body.CommunicationDisabledUntil.Value)
		switch {
		case err != nil:
			fe.Add("communication_disabled_until", "DATE_TIME_INVALID", "Must be an ISO8601 timestamp.")
		case t.After(c.now.Add(maxTimeout)):
			fe.Add("communication_disabled_until", "COMMUNICATION_DISABLED_UNTIL_TOO_LONG", "Must be at most 28 days in the future.")
		default:
			t = t.UTC()
			timeout = &t
		}
	}
	if timeoutGiven {
		next.CommunicationDisabledUntil = timeout
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}

	perms := c.st.guildPerms(c.actor, c.now)
	if nickGiven && !c.mayRename(target) {
		return reply{}, discord.ErrMissingPerms
	}
	if body.Roles.Set {
		if !perms.Has(permissions.ManageRoles) {
			return reply{}, discord.ErrMissingPerms
		}
		for _, id := range changedRoles {
			if !c.st.canManageRole(c.actor, id) || c.st.roles[id].BotID != 0 {
				return reply{}, discord.ErrMissingPerms
			}
		}
	}
	if timeoutGiven {
		if !perms.Has(permissions.ModerateMembers) || !c.st.canActOn(c.actor, target) {
			return reply{}, discord.ErrMissingPerms
		}
		// Administrators cannot be timed out (the owner is covered above).
		tm := permMember(m)
		if timeout != nil && timeout.After(c.now) && c.st.perms().Base(&tm).Has(permissions.Administrator) {
			return reply{}, discord.ErrMissingPerms
		}
	}
	return c.saveMember(m, next)
}

// saveMember writes next over m when it differs, emits GUILD_MEMBER_UPDATE
// (and the channels the member now sees or no longer sees), and answers the
// member.
func (c *gcall) saveMember(m *persistence.Member, next persistence.Member) (reply, *discord.Error) {
	if !memberEqual(m, &next) {
		// A role change may change which channels the member sees.
		before := c.st.sight(c.now, m.User.ID)
		if e := c.write(func(w *persistence.GuildWriter) error { return w.PutMember(next) }, func() {
			*m = next
		}); e != nil {
			return reply{}, e
		}
		c.emit("GUILD_MEMBER_UPDATE", 0, c.memberEvent(m), c.st.memberIDs())
		c.emitSight(before, m.User.ID)
	}
	return reply{status: http.StatusOK, body: wireMember(m)}, nil
}

func memberEqual(a, b *persistence.Member) bool {
	if !sameNick(a.Nick, b.Nick) || len(a.Roles) != len(b.Roles) {
		return false
	}
	for i := range a.Roles {
		if a.Roles[i] != b.Roles[i] {
			return false
		}
	}
	ta, tb := a.CommunicationDisabledUntil, b.CommunicationDisabledUntil
	return (ta == nil) == (tb == nil) && (ta == nil || ta.Equal(*tb))
}

// updateMe is PATCH /guilds/{id}/members/@me: the actor's own nickname.
func updateMe(c *gcall) (reply, *discord.Error) {
	m := c.st.members[c.actor]
	if m == nil {
		return reply{}, discord.ErrMissingAccess
	}
	var body struct {
		Nick nullableJSON[string] `json:"nick"`
	}
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	next := copyMember(m)
	if body.Nick.Set || body.Nick.Null {
		fe := discord.FieldErrors{}
		validNick(fe, body.Nick, &next)
		if e := fe.Err(); e != nil {
			return reply{}, e
		}
		if !c.mayRename(c.actor) {
			return reply{}, discord.ErrMissingPerms
		}
	}
	return c.saveMember(m, next)
}

func kickMember(c *gcall) (reply, *discord.Error) {
	m, e := c.targetMember()
	if e != nil {
		return reply{}, e
	}
	if e := c.st.requireGuild(c.actor, permissions.KickMembers, c.now); e != nil {
		return reply{}, e
	}
	target := m.User.ID
	if !c.st.canActOn(c.actor, target) {
		return reply{}, discord.ErrMissingPerms
	}
	dropRoles, applyDrop, emitDrop := c.dropManagedRoles(target)
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.DeleteMember(c.g.id, target); err != nil {
			return err
		}
		return dropRoles(w)
	}, func() {
		c.st.removeMember(target)
		applyDrop()
	}); e != nil {
		return reply{}, e
	}
	c.emitRemoved(m.User)
	emitDrop()
	return reply{status: http.StatusNoContent}, nil
}

// emitRemoved tells a removed member that the guild is gone for them and the
// remaining members that they left.
func (c *gcall) emitRemoved(u persistence.MemberUser) {
	c.emit("GUILD_MEMBER_REMOVE", 0, map[string]any{"guild_id": snowflake.ID(c.g.id), "user": wireMemberUser(u)}, c.st.memberIDs())
	c.emit("GUILD_DELETE", 0, map[string]any{"id": snowflake.ID(c.g.id)}, []int64{u.ID})
}

// memberRole resolves the member and role of a role grant or revocation and
// checks the actor may change it.
func (c *gcall) memberRole() (*persistence.Member, int64, *discord.Error) {
	m, e := c.targetMember()
	if e != nil {
		return nil, 0, e
	}
	id, _ := c.id("role_id")
	if c.st.roles[id] == nil || id == c.g.id {
		return nil, 0, discord.ErrUnknownRole
	}
	if e := c.st.requireGuild(c.actor, permissions.ManageRoles, c.now); e != nil {
		return nil, 0, e
	}
	if c.st.roles[id].BotID != 0 {
		return nil, 0, errManagedRole
	}
	if !c.st.canManageRole(c.actor, id) {
		return nil, 0, discord.ErrMissingPerms
	}
	return m, id, nil
}

func addMemberRole(c *gcall) (reply, *discord.Error) {
	m, id, e := c.memberRole()
	if e != nil {
		return reply{}, e
	}
	next := copyMember(m)
	if !hasRole(next.Roles, id) {
		next.Roles = append(next.Roles, id)
	}
	if _, e := c.saveMember(m, next); e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusNoContent}, nil
}

func removeMemberRole(c *gcall) (reply, *discord.Error) {
	m, id, e := c.memberRole()
	if e != nil {
		return reply{}, e
	}
	next := copyMember(m)
	next.Roles = withoutRole(next.Roles, id)
	if _, e := c.saveMember(m, next); e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusNoContent}, nil
}
