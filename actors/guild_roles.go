package actors

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Role operations: list, create, reorder, modify, delete.
//
// Positions. @everyone (id = guild id) is always at position 0; every other
// role holds a position from 1 up. A new role enters at 1, just above
// @everyone, and every other role moves up by one, in the same transaction.
// A reorder renumbers all roles to 1..n (see reorderRoles), so positions
// stay dense; a deleted role leaves a gap until the next reorder or create,
// which changes no role's rank.
func init() {
	registerGuildOps(map[string]guildOp{
		"roles.list":      {run: listRoles},
		"roles.create":    {run: createRole},
		"roles.positions": {run: reorderRoles},
		"role.update":     {run: updateRole},
		"role.delete":     {run: deleteRole},
	})
}

// Discord's limits on a role.
const (
	maxRoleName  = 100
	maxRoleColor = 0xFFFFFF
)

// errInvalidRole is Discord's 50028, answered for deleting @everyone.
var errInvalidRole = &discord.Error{Status: http.StatusBadRequest, Code: 50028, Message: "Invalid Role"}

func listRoles(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	return reply{status: http.StatusOK, body: c.st.sortedRoles()}, nil
}

// roleBody is the body of role create and modify. Every field is optional;
// null leaves a field as it is.
type roleBody struct {
	Name         nullableJSON[string]          `json:"name"`
	Permissions  nullableJSON[json.RawMessage] `json:"permissions"`
	Color        nullableJSON[int]             `json:"color"`
	Hoist        nullableJSON[bool]            `json:"hoist"`
	Mentionable  nullableJSON[bool]            `json:"mentionable"`
	Icon         nullableJSON[string]          `json:"icon"`
	UnicodeEmoji nullableJSON[string]          `json:"unicode_emoji"`
}

// apply validates b onto r; errors go to fe.
func (b *roleBody) apply(fe discord.FieldErrors, r *persistence.Role, everyone bool) {
	if b.Name.Set {
		name := validName(fe, "name", &b.Name.Value, 1, maxRoleName)
		if everyone && name != r.Name {
			fe.Add("name", "ROLE_NAME_IMMUTABLE", "The @everyone role cannot be renamed.")
		}
		r.Name = name
	}
	if b.Permissions.Set {
		var p permissions.Permission
		if err := json.Unmarshal(b.Permissions.Value, &p); err != nil {
			fe.Add("permissions", "PERMISSIONS_INVALID", "Must be a permission bit set, as a decimal string.")
		} else {
			// Bits no flag defines are dropped, never stored.
			r.Permissions = uint64(p & permissions.All)
		}
	}
	if b.Color.Set {
		if b.Color.Value < 0 || b.Color.Value > maxRoleColor {
			fe.Add("color", "NUMBER_TYPE_MAX", "Must be between 0 and 16777215.")
		}
		r.Color = b.Color.Value
	}
	if b.Hoist.Set {
		r.Hoist = b.Hoist.Value
	}
	if b.Mentionable.Set {
		r.Mentionable = b.Mentionable.Value
	}
	// Role icons need the ROLE_ICONS feature, which no Accord guild has.
	if b.Icon.Set {
		fe.Add("icon", "MISSING_FEATURE", "This guild cannot have role icons.")
	}
	if b.UnicodeEmoji.Set {
		fe.Add("unicode_emoji", "MISSING_FEATURE", "This guild cannot have role icons.")
	}
}

// canGrant reports whether actor may give a role the permissions added
// going from old to next: only permissions the actor holds (the owner and
// administrators hold them all).
func (c *gcall) canGrant(old, next uint64) bool {
	added := permissions.Permission(next &^ old)
	return c.st.guildPerms(c.actor, c.now).Has(added)
}

func (c *gcall) roleEvent(r *persistence.Role) map[string]any {
	return map[string]any{"guild_id": snowflake.ID(c.g.id), "role": wireRole(r)}
}

func createRole(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageRoles, c.now); e != nil {
		return reply{}, e
	}
	var body roleBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	everyone := c.st.roles[c.g.id]
	r := persistence.Role{GuildID: c.g.id, Name: "new role", Position: 1}
	if everyone != nil {
		r.Permissions = everyone.Permissions
	}
	fe := discord.FieldErrors{}
	body.apply(fe, &r, false)
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	if !c.canGrant(0, r.Permissions) {
		return reply{}, discord.ErrMissingPerms
	}
	if len(c.st.roles) >= maxRolesPerGuild {
		return reply{}, discord.ErrMaxRoles
	}
	id, e := c.newID()
	if e != nil {
		return reply{}, e
	}
	r.ID = id
	// Every role above @everyone moves up one to make room at 1.
	var shifted []persistence.Role
	for _, old := range c.st.roles {
		if old.ID != c.g.id && old.Position >= 1 {
			next := *old
			next.Position++
			shifted = append(shifted, next)
		}
	}
	sort.Slice(shifted, func(i, j int) bool { return shifted[i].ID < shifted[j].ID })
	if e := c.write(func(w *persistence.GuildWriter) error {
		return w.PutRoles(append(shifted, r))
	}, func() {
		for _, s := range shifted {
			*c.st.roles[s.ID] = s
		}
		c.st.roles[r.ID] = &r
		c.st.rolesChanged()
	}); e != nil {
		return reply{}, e
	}
	members := c.st.memberIDs()
	c.emit("GUILD_ROLE_CREATE", 0, c.roleEvent(&r), members)
	for i := range shifted {
		c.emit("GUILD_ROLE_UPDATE", 0, c.roleEvent(&shifted[i]), members)
	}
	return reply{status: http.StatusOK, body: wireRole(&r)}, nil
}

// rolePosition is one entry of a reorder.
type rolePosition struct {
	ID       json.RawMessage `json:"id"`
	Position *int            `json:"position"`
}

// reorderRoles is PATCH /guilds/{id}/roles. Each entry moves one role to a
// position; the result is renumbered 1..n in the requested order: roles sort
// by position, and at an equal position a role moved up ranks above one left
// in place, which ranks above one moved down, so a moved role lands exactly
// where it was asked to go and the others close up around it; two moved roles
// asking for one position rank by id as [permissions.RoleLess] does. An entry
// that leaves a role where it is is no move (clients send the full list).
//
// A member who is not the owner moves only roles below their highest role,
// and only to positions below it: the roles at and above it keep their rank.
func reorderRoles(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageRoles, c.now); e != nil {
		return reply{}, e
	}
	var body []rolePosition
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	if body == nil {
		return reply{}, discord.Invalid("_body", "BASE_TYPE_REQUIRED", "This field is required")
	}
	fe := discord.FieldErrors{}
	want := map[int64]int{} // role id → requested position, moves only
	seen := map[int64]bool{}
	for i, p := range body {
		field := strconv.Itoa(i)
		var id snowflake.ID
		if err := json.Unmarshal(p.ID, &id); err != nil || id == 0 || c.st.roles[int64(id)] == nil {
			fe.Add(field+".id", "ROLE_INVALID", "Unknown role.")
			continue
		}
		if seen[int64(id)] {
			fe.Add(field+".id", "ROLE_DUPLICATE", "A role may appear only once.")
			continue
		}
		seen[int64(id)] = true
		if p.Position == nil {
			continue
		}
		if int64(id) == c.g.id {
			if *p.Position != 0 {
				fe.Add(field+".position", "ROLE_POSITION_IMMUTABLE", "The @everyone role stays at position 0.")
			}
			continue
		}
		if *p.Position < 0 {
			fe.Add(field+".position", "NUMBER_TYPE_MIN", "Must be 0 or more.")
			continue
		}
		if *p.Position != c.st.roles[int64(id)].Position {
			want[int64(id)] = *p.Position
		}
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	if c.actor != c.st.guild.OwnerID {
		am := permMember(c.st.members[c.actor])
		top := c.st.perms().HighestRole(&am)
		for id, pos := range want {
			if !c.st.canManageRole(c.actor, id) || pos >= top.Position {
				return reply{}, discord.ErrMissingPerms
			}
		}
	}

	type entry struct {
		r     *persistence.Role
		pos   int
		class int // 2 moved up, 1 in place, 0 moved down
	}
	entries := make([]entry, 0, len(c.st.roles))
	for _, r := range c.st.roles {
		if r.ID == c.g.id {
			continue
		}
		en := entry{r: r, pos: r.Position, class: 1}
		if pos, ok := want[r.ID]; ok {
			en.pos = pos
			if pos > r.Position {
				en.class = 2
			} else {
				en.class = 0
			}
		}
		entries = append(entries, en)
	}
	sort.Slice(entries, func(i, j int) bool {
		a, b := entries[i], entries[j]
		if a.pos != b.pos {
			return a.pos < b.pos
		}
		if a.class != b.class {
			return a.class < b.class
		}
		return a.r.ID > b.r.ID
	})
	var changed []persistence.Role
	for i, en := range entries {
		if en.r.Position != i+1 {
			next := *en.r
			next.Position = i + 1
			changed = append(changed, next)
		}
	}
	if len(changed) > 0 {
		if e := c.write(func(w *persistence.GuildWriter) error {
			return w.PutRoles(changed)
		}, func() {
			for _, r := range changed {
				*c.st.roles[r.ID] = r
			}
			c.st.rolesChanged()
		}); e != nil {
			return reply{}, e
		}
		members := c.st.memberIDs()
		for i := range changed {
			c.emit("GUILD_ROLE_UPDATE", 0, c.roleEvent(&changed[i]), members)
		}
	}
	return reply{status: http.StatusOK, body: c.st.sortedRoles()}, nil
}

// manageableRole resolves the role_id parameter for a change by the actor:
// 50001 for a non-member, 10011 for an unknown role, 50013 without
// MANAGE_ROLES or when the role is not below the actor's highest role.
func (c *gcall) manageableRole() (*persistence.Role, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return nil, discord.ErrMissingAccess
	}
	id, _ := c.id("role_id")
	r := c.st.roles[id]
	if r == nil {
		return nil, discord.ErrUnknownRole
	}
	if e := c.st.requireGuild(c.actor, permissions.ManageRoles, c.now); e != nil {
		return nil, e
	}
	if !c.st.canManageRole(c.actor, r.ID) {
		return nil, discord.ErrMissingPerms
	}
	return r, nil
}

func updateRole(c *gcall) (reply, *discord.Error) {
	r, e := c.manageableRole()
	if e != nil {
		return reply{}, e
	}
	var body roleBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	next := *r
	fe := discord.FieldErrors{}
	body.apply(fe, &next, r.ID == c.g.id)
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	if !c.canGrant(r.Permissions, next.Permissions) {
		return reply{}, discord.ErrMissingPerms
	}
	if next != *r {
		var before sight
		if next.Permissions != r.Permissions {
			before = c.st.sight(c.now, 0)
		}
		if e := c.write(func(w *persistence.GuildWriter) error { return w.PutRole(next) }, func() {
			*r = next
			c.st.rolesChanged()
		}); e != nil {
			return reply{}, e
		}
		c.emit("GUILD_ROLE_UPDATE", 0, c.roleEvent(r), c.st.memberIDs())
		if before != nil {
			c.emitSight(before, 0)
		}
	}
	return reply{status: http.StatusOK, body: wireRole(r)}, nil
}

// deleteRole deletes a role, takes it from its members and drops its channel
// overwrites (GuildWriter.DeleteRole). The role's members may see channels
// differently afterwards: see emitSight.
func deleteRole(c *gcall) (reply, *discord.Error) {
	r, e := c.manageableRole()
	if e != nil {
		return reply{}, e
	}
	// Neither @everyone nor a bot's managed role can be deleted (the
	// latter goes with its bot).
	if r.ID == c.g.id || r.BotID != 0 {
		return reply{}, errInvalidRole
	}
	id := r.ID
	before := c.st.sight(c.now, 0)
	if e := c.write(func(w *persistence.GuildWriter) error { return w.DeleteRole(c.g.id, id) }, func() {
		c.st.removeRole(id)
	}); e != nil {
		return reply{}, e
	}
	c.emit("GUILD_ROLE_DELETE", 0, map[string]any{"guild_id": snowflake.ID(c.g.id), "role_id": snowflake.ID(id)}, c.st.memberIDs())
	c.emitSight(before, 0)
	return reply{status: http.StatusNoContent}, nil
}

// removeRole drops a role from memory, from every member holding it and from
// every channel's overwrites, mirroring GuildWriter.DeleteRole. Changed
// members and channels are replaced by copies, never edited in place.
func (st *guildState) removeRole(id int64) {
	delete(st.roles, id)
	for _, m := range st.members {
		if hasRole(m.Roles, id) {
			m.Roles = withoutRole(m.Roles, id)
		}
	}
	for chID, ch := range st.channels {
		kept := make([]persistence.Overwrite, 0, len(ch.Overwrites))
		for _, o := range ch.Overwrites {
			if !(o.Type == 0 && o.TargetID == id) {
				kept = append(kept, o)
			}
		}
		if len(kept) != len(ch.Overwrites) {
			next := *ch
			next.Overwrites = kept
			st.channels[chID] = &next
		}
	}
	st.rolesChanged()
}

// sight is what a change of roles may change about channels: for each
// channel, the channel object (its old version, after the change) and the
// members who can view it.
type sight map[int64]sightEntry

type sightEntry struct {
	ch      *persistence.Channel
	viewers []int64 // sorted
}

// sight records who can view each channel: every member, or only userID
// when it is not 0.
func (st *guildState) sight(now time.Time, userID int64) sight {
	out := make(sight, len(st.channels))
	for id, ch := range st.channels {
		e := sightEntry{ch: ch}
		if userID == 0 {
			e.viewers = st.viewers(ch, now)
		} else if st.channelPerms(userID, ch, now).Has(permissions.ViewChannel) {
			e.viewers = []int64{userID}
		}
		out[id] = e
	}
	return out
}

// emitSight tells members about channels whose visibility or overwrites a
// committed change of roles altered, as the channel operations do for
// overwrites: CHANNEL_CREATE to members who can now view a channel they could
// not, CHANNEL_DELETE (with the object they knew) to members who no longer
// can, CHANNEL_UPDATE to the remaining viewers of a channel whose object
// changed (a deleted role's overwrite dropped). userID limits it to one
// member, as before was recorded.
func (c *gcall) emitSight(before sight, userID int64) {
	after := c.st.sight(c.now, userID)
	for _, ch := range c.st.sortedChannels() {
		old, now := before[ch.ID], after[ch.ID]
		var kept, gained, lost []int64
		for _, id := range now.viewers {
			if _, found := slices.BinarySearch(old.viewers, id); found {
				kept = append(kept, id)
			} else {
				gained = append(gained, id)
			}
		}
		for _, id := range old.viewers {
			if _, found := slices.BinarySearch(now.viewers, id); !found {
				lost = append(lost, id)
			}
		}
		cur := wireChannel(ch)
		if old.ch != nil && old.ch != ch {
			c.emit("CHANNEL_UPDATE", ch.ID, cur, kept)
		}
		c.emit("CHANNEL_CREATE", ch.ID, cur, gained)
		if old.ch != nil {
			c.emit("CHANNEL_DELETE", ch.ID, wireChannel(old.ch), lost)
		}
	}
}

func hasRole(roles []int64, id int64) bool {
	return slices.Contains(roles, id)
}

// withoutRole returns a new slice of roles without id.
func withoutRole(roles []int64, id int64) []int64 {
	out := make([]int64, 0, len(roles))
	for _, r := range roles {
		if r != id {
			out = append(out, r)
		}
	}
	return out
}
