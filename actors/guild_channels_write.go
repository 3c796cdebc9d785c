package actors

import (
	"cmp"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Channel writes and permission overwrites: create, reorder, modify and
// delete guild channels; put and delete one overwrite.
//
// Decisions where Discord is silent or where Accord is stricter:
//
//   - Field errors of array elements are keyed by their dotted path
//     ("permission_overwrites.0.id", "1.parent_id"); discord.js flattens
//     Discord's nested errors to the same path.
//   - Fields that do not apply to a channel's type (topic of a voice
//     channel, bitrate of a text channel, …) are ignored, not rejected.
//   - "permission_overwrites": null in a PATCH leaves the overwrites as they
//     are; [] clears them.
//   - "You can only allow or deny permissions you have" is checked on the
//     bits an overwrite changes (compared with the target's current
//     overwrite), so re-sending an overwrite unchanged never fails. They
//     must lie within the actor's guild permissions when creating a channel
//     (where MANAGE_ROLES may be set only by administrators, as Discord
//     documents) and within the actor's permissions in the channel
//     otherwise. Administrators and the owner may set anything.
//   - An overwrite for a member (type 1) must name a current member.
func init() {
	registerGuildOps(map[string]guildOp{
		"channels.create":    {run: createChannel},
		"channels.positions": {run: reorderChannels},
		"channel.update":     {run: updateChannel},
		"channel.delete":     {run: deleteChannel},
		"overwrite.put":      {run: putOverwrite},
		"overwrite.delete":   {run: deleteOverwrite},
	})
}

// Discord's limits on channel fields (a guild without boosts).
const (
	maxChannelName = 100
	maxTopic       = 1024
	maxSlowmode    = 21600
	minBitrate     = 8000
	maxBitrate     = 96000
	defaultBitrate = 64000
	maxUserLimit   = 99
)

// bodyField is an optional, nullable request field. A value of the wrong
// type marks it Bad instead of failing the whole body, so that the error
// names the field.
type bodyField[T any] struct {
	Set  bool // present with a valid value
	Null bool // present as null
	Bad  bool // present with a value of the wrong type or form
	V    T
}

func (f *bodyField[T]) UnmarshalJSON(b []byte) error {
	*f = bodyField[T]{}
	if string(b) == "null" {
		f.Null = true
		return nil
	}
	if err := json.Unmarshal(b, &f.V); err != nil {
		f.Bad = true
		return nil
	}
	f.Set = true
	return nil
}

// overwriteKind is an overwrite's type: 0 (role) or 1 (member), as a JSON
// number or string; "role" and "member" are API v6's spelling.
type overwriteKind int

var errOverwriteKind = errors.New("overwrite type must be 0 or 1")

func (k *overwriteKind) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `0`, `"0"`, `"role"`:
		*k = 0
	case `1`, `"1"`, `"member"`:
		*k = 1
	default:
		return errOverwriteKind
	}
	return nil
}

// overwriteBody is a partial overwrite in a request; allow and deny default
// to 0.
type overwriteBody struct {
	ID    bodyField[snowflake.ID]           `json:"id"`
	Type  bodyField[overwriteKind]          `json:"type"`
	Allow bodyField[permissions.Permission] `json:"allow"`
	Deny  bodyField[permissions.Permission] `json:"deny"`
}

// channelBody is the body of channel create and modify.
type channelBody struct {
	Name                 bodyField[string]          `json:"name"`
	Type                 bodyField[int]             `json:"type"`
	Topic                bodyField[string]          `json:"topic"`
	Position             bodyField[int]             `json:"position"`
	ParentID             bodyField[snowflake.ID]    `json:"parent_id"`
	NSFW                 bodyField[bool]            `json:"nsfw"`
	RateLimitPerUser     bodyField[int]             `json:"rate_limit_per_user"`
	Bitrate              bodyField[int]             `json:"bitrate"`
	UserLimit            bodyField[int]             `json:"user_limit"`
	PermissionOverwrites bodyField[[]overwriteBody] `json:"permission_overwrites"`
}

func badType(fe discord.FieldErrors, field string) {
	fe.Add(field, "BASE_TYPE_INVALID", "Value has the wrong type.")
}

// normalizeChannelName trims a name; a text channel's name is lowercased
// with each run of spaces turned into one dash, as Discord does.
func normalizeChannelName(typ int, name string) string {
	name = strings.TrimSpace(name)
	if typ != discord.ChannelText {
		return name
	}
	return strings.ToLower(strings.Join(strings.Fields(name), "-"))
}

// intField validates an optional integer in [lo, hi]; ok is false when the
// field is absent, null or invalid.
func intField(fe discord.FieldErrors, name string, f bodyField[int], lo, hi int) (int, bool) {
	switch {
	case f.Bad:
		badType(fe, name)
	case f.Set && f.V < lo:
		fe.Add(name, "NUMBER_TYPE_MIN", "Must be greater than or equal to "+strconv.Itoa(lo)+".")
	case f.Set && f.V > hi:
		fe.Add(name, "NUMBER_TYPE_MAX", "Must be less than or equal to "+strconv.Itoa(hi)+".")
	case f.Set:
		return f.V, true
	}
	return 0, false
}

// applyChannelBody validates b and applies it to next, whose Type is
// already final. creating makes name required and null fields mean their
// defaults.
func (st *guildState) applyChannelBody(fe discord.FieldErrors, next *persistence.Channel, b *channelBody, creating bool) {
	switch {
	case b.Name.Set:
		name := normalizeChannelName(next.Type, b.Name.V)
		if n := utf8.RuneCountInString(name); n < 1 || n > maxChannelName {
			fe.Add("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
		}
		next.Name = name
	case b.Name.Bad:
		badType(fe, "name")
	case b.Name.Null || creating:
		fe.Add("name", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if b.Position.Set || b.Position.Bad {
		if v, ok := intField(fe, "position", b.Position, 0, 1<<31-1); ok {
			next.Position = v
		}
	}
	text, voice := next.Type == discord.ChannelText, next.Type == discord.ChannelVoice
	if text {
		switch {
		case b.Topic.Bad:
			badType(fe, "topic")
		case b.Topic.Null:
			next.Topic = nil
		case b.Topic.Set:
			if utf8.RuneCountInString(b.Topic.V) > maxTopic {
				fe.Add("topic", "BASE_TYPE_BAD_LENGTH", "Must be between 0 and 1024 in length.")
			}
			if b.Topic.V == "" {
				next.Topic = nil
			} else {
				topic := b.Topic.V
				next.Topic = &topic
			}
		}
	}
	if text || voice {
		switch {
		case b.NSFW.Bad:
			badType(fe, "nsfw")
		case b.NSFW.Null:
			next.NSFW = false
		case b.NSFW.Set:
			next.NSFW = b.NSFW.V
		}
		if b.RateLimitPerUser.Null {
			next.RateLimitPerUser = 0
		} else if v, ok := intField(fe, "rate_limit_per_user", b.RateLimitPerUser, 0, maxSlowmode); ok {
			next.RateLimitPerUser = v
		}
	}
	if voice {
		if b.Bitrate.Null {
			next.Bitrate = defaultBitrate
		} else if v, ok := intField(fe, "bitrate", b.Bitrate, minBitrate, maxBitrate); ok {
			next.Bitrate = v
		}
		if b.UserLimit.Null {
			next.UserLimit = 0
		} else if v, ok := intField(fe, "user_limit", b.UserLimit, 0, maxUserLimit); ok {
			next.UserLimit = v
		}
	}
	switch {
	case b.ParentID.Bad:
		badType(fe, "parent_id")
	case b.ParentID.Null:
		next.ParentID = 0
	case b.ParentID.Set:
		if id, ok := st.validParent(fe, "parent_id", next, int64(b.ParentID.V)); ok {
			next.ParentID = id
		}
	}
}

// validParent checks that parent may become ch's category.
func (st *guildState) validParent(fe discord.FieldErrors, field string, ch *persistence.Channel, parent int64) (int64, bool) {
	if ch.Type == discord.ChannelCategory {
		fe.Add(field, "CHANNEL_PARENT_INVALID", "Categories cannot have a parent.")
		return 0, false
	}
	p := st.channels[parent]
	if p == nil || p.Type != discord.ChannelCategory {
		fe.Add(field, "CHANNEL_PARENT_INVALID", "Must be a category of this guild.")
		return 0, false
	}
	return parent, true
}

// validOverwrites checks a requested overwrite set: each names a role
// (type 0) or member (type 1) of this guild, once.
func (st *guildState) validOverwrites(fe discord.FieldErrors, list []overwriteBody) []persistence.Overwrite {
	out := make([]persistence.Overwrite, 0, len(list))
	seen := make(map[int64]bool, len(list))
	for i, o := range list {
		at := "permission_overwrites." + strconv.Itoa(i) + "."
		ow := persistence.Overwrite{}
		ok := true
		switch {
		case o.Type.Set:
			ow.Type = int(o.Type.V)
		case o.Type.Bad:
			fe.Add(at+"type", "BASE_TYPE_CHOICES", "Value must be one of {0, 1}.")
			ok = false
		default:
			fe.Add(at+"type", "BASE_TYPE_REQUIRED", "This field is required")
			ok = false
		}
		switch {
		case o.ID.Set:
			ow.TargetID = int64(o.ID.V)
		case o.ID.Bad:
			fe.Add(at+"id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
			ok = false
		default:
			fe.Add(at+"id", "BASE_TYPE_REQUIRED", "This field is required")
			ok = false
		}
		if o.Allow.Bad {
			fe.Add(at+"allow", "NUMBER_TYPE_COERCE", "Value is not a valid permission set.")
		}
		if o.Deny.Bad {
			fe.Add(at+"deny", "NUMBER_TYPE_COERCE", "Value is not a valid permission set.")
		}
		ow.Allow, ow.Deny = uint64(o.Allow.V&permissions.All), uint64(o.Deny.V&permissions.All)
		if !ok {
			continue
		}
		switch {
		case seen[ow.TargetID]:
			fe.Add(at+"id", "CHANNEL_PERMISSION_OVERWRITE_DUPLICATE", "Each role or member may have one overwrite.")
		case ow.Type == 0 && st.roles[ow.TargetID] == nil:
			fe.Add(at+"id", "CHANNEL_PERMISSION_OVERWRITE_TARGET_INVALID", "Unknown role.")
		case ow.Type == 1 && st.members[ow.TargetID] == nil:
			fe.Add(at+"id", "CHANNEL_PERMISSION_OVERWRITE_TARGET_INVALID", "Unknown member.")
		}
		seen[ow.TargetID] = true
		out = append(out, ow)
	}
	return out
}

// changedBits is every permission bit that next sets differently from the
// overwrite old holds for the same target.
func changedBits(old, next []persistence.Overwrite) permissions.Permission {
	var bits uint64
	for _, n := range next {
		var o persistence.Overwrite
		if i := overwriteIndex(old, n.TargetID); i >= 0 && old[i].Type == n.Type {
			o = old[i]
		}
		bits |= (o.Allow ^ n.Allow) | (o.Deny ^ n.Deny)
	}
	return permissions.Permission(bits)
}

func overwriteIndex(list []persistence.Overwrite, target int64) int {
	return slices.IndexFunc(list, func(o persistence.Overwrite) bool { return o.TargetID == target })
}

func sameOverwrites(a, b []persistence.Overwrite) bool {
	if len(a) != len(b) {
		return false
	}
	for _, o := range a {
		i := overwriteIndex(b, o.TargetID)
		if i < 0 || b[i] != o {
			return false
		}
	}
	return true
}

// isAdmin reports whether the actor is the owner or an administrator.
func (c *gcall) isAdmin() bool {
	return c.st.guildPerms(c.actor, c.now).Has(permissions.Administrator)
}

// mayGrant checks that the actor holds every bit it changes in overwrites.
func (c *gcall) mayGrant(changed, held permissions.Permission) *discord.Error {
	if c.isAdmin() || held.Has(changed) {
		return nil
	}
	return discord.ErrMissingPerms
}

// channelFor returns the channel of the channel_id parameter when the actor
// can view it and holds need there: 403 Missing Access for a non-member or a
// channel the actor cannot view, 404 Unknown Channel, 403 Missing
// Permissions without need.
func (c *gcall) channelFor(need permissions.Permission) (*persistence.Channel, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return nil, discord.ErrMissingAccess
	}
	id, _ := c.id("channel_id")
	ch, e := c.st.viewChannel(c.actor, id, c.now)
	if e != nil {
		return nil, e
	}
	if !c.st.channelPerms(c.actor, ch, c.now).Has(need) {
		return nil, discord.ErrMissingPerms
	}
	return ch, nil
}

// copyChannel is a deep copy of ch, to be changed and then swapped in.
func copyChannel(ch *persistence.Channel) persistence.Channel {
	next := *ch
	next.Overwrites = slices.Clone(ch.Overwrites)
	if next.Overwrites == nil {
		next.Overwrites = []persistence.Overwrite{}
	}
	return next
}

// writeOverwrites makes the stored overwrites of a channel go from old to
// next.
func writeOverwrites(w *persistence.GuildWriter, channelID int64, old, next []persistence.Overwrite) error {
	for _, o := range old {
		if overwriteIndex(next, o.TargetID) < 0 {
			if err := w.DeleteOverwrite(channelID, o.TargetID); err != nil {
				return err
			}
		}
	}
	for _, n := range next {
		if i := overwriteIndex(old, n.TargetID); i >= 0 && old[i] == n {
			continue
		}
		if err := w.PutOverwrite(channelID, n); err != nil {
			return err
		}
	}
	return nil
}

// emitChannelChange announces a committed change of ch to the members
// who could view it before (before, with its old object) or can view it now:
// CHANNEL_UPDATE to those who still can, CHANNEL_CREATE to those who now
// can for the first time, CHANNEL_DELETE (with the old object, so nothing
// new leaks) to those who no longer can, as Discord does.
func (c *gcall) emitChannelChange(old discord.Channel, ch *persistence.Channel, before []int64) {
	after := c.st.viewers(ch, c.now)
	var kept, gained, lost []int64
	for _, id := range after {
		if _, found := slices.BinarySearch(before, id); found {
			kept = append(kept, id)
		} else {
			gained = append(gained, id)
		}
	}
	for _, id := range before {
		if _, found := slices.BinarySearch(after, id); !found {
			lost = append(lost, id)
		}
	}
	now := wireChannel(ch)
	c.emit("CHANNEL_UPDATE", ch.ID, now, kept)
	c.emit("CHANNEL_CREATE", ch.ID, now, gained)
	c.emit("CHANNEL_DELETE", ch.ID, old, lost)
}

// lastPosition is the position after every channel of typ under parent.
func (st *guildState) lastPosition(typ int, parent int64) int {
	pos := 0
	for _, o := range st.channels {
		if o.Type == typ && o.ParentID == parent && o.Position >= pos {
			pos = o.Position + 1
		}
	}
	return pos
}

func createChannel(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageChannels, c.now); e != nil {
		return reply{}, e
	}
	var body channelBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	fe := discord.FieldErrors{}
	ch := persistence.Channel{GuildID: c.g.id, Type: discord.ChannelText, Overwrites: []persistence.Overwrite{}, CreatedAt: c.now}
	switch {
	case body.Type.Bad:
		badType(fe, "type")
	case body.Type.Set:
		switch body.Type.V {
		case discord.ChannelText, discord.ChannelVoice, discord.ChannelCategory:
			ch.Type = body.Type.V
		default:
			fe.Add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4}.")
		}
	}
	if ch.Type == discord.ChannelVoice {
		ch.Bitrate = defaultBitrate
	}
	c.st.applyChannelBody(fe, &ch, &body, true)
	switch {
	case body.PermissionOverwrites.Bad:
		badType(fe, "permission_overwrites")
	case body.PermissionOverwrites.Set:
		ch.Overwrites = c.st.validOverwrites(fe, body.PermissionOverwrites.V)
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	held := c.st.guildPerms(c.actor, c.now) &^ permissions.ManageRoles
	if e := c.mayGrant(changedBits(nil, ch.Overwrites), held); e != nil {
		return reply{}, e
	}
	if len(c.st.channels) >= maxChannelsPerGuild {
		return reply{}, discord.ErrMaxChannels
	}
	if !body.Position.Set {
		ch.Position = c.st.lastPosition(ch.Type, ch.ParentID)
	}
	id, e := c.newID()
	if e != nil {
		return reply{}, e
	}
	ch.ID = id
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.PutChannel(ch); err != nil {
			return err
		}
		return writeOverwrites(w, ch.ID, nil, ch.Overwrites)
	}, func() {
		c.st.channels[ch.ID] = &ch
	}); e != nil {
		return reply{}, e
	}
	out := wireChannel(&ch)
	c.emit("CHANNEL_CREATE", ch.ID, out, c.st.viewers(&ch, c.now))
	return reply{status: http.StatusCreated, body: out}, nil
}

func updateChannel(c *gcall) (reply, *discord.Error) {
	ch, e := c.channelFor(permissions.ManageChannels)
	if e != nil {
		return reply{}, e
	}
	var body channelBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	fe := discord.FieldErrors{}
	next := copyChannel(ch)
	switch {
	case body.Type.Bad:
		badType(fe, "type")
	case body.Type.Set && body.Type.V != ch.Type:
		fe.Add("type", "BASE_TYPE_CHOICES", "Only conversion between text and announcement channels is supported.")
	}
	c.st.applyChannelBody(fe, &next, &body, false)
	switch {
	case body.PermissionOverwrites.Bad:
		badType(fe, "permission_overwrites")
	case body.PermissionOverwrites.Set:
		next.Overwrites = c.st.validOverwrites(fe, body.PermissionOverwrites.V)
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	if !sameOverwrites(ch.Overwrites, next.Overwrites) {
		held := c.st.channelPerms(c.actor, ch, c.now)
		if !held.Has(permissions.ManageRoles) {
			return reply{}, discord.ErrMissingPerms
		}
		if e := c.mayGrant(changedBits(ch.Overwrites, next.Overwrites), held); e != nil {
			return reply{}, e
		}
	}
	old, before := wireChannel(ch), c.st.viewers(ch, c.now)
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.PutChannel(next); err != nil {
			return err
		}
		return writeOverwrites(w, next.ID, ch.Overwrites, next.Overwrites)
	}, func() {
		c.st.channels[next.ID] = &next
	}); e != nil {
		return reply{}, e
	}
	c.emitChannelChange(old, &next, before)
	return reply{status: http.StatusOK, body: wireChannel(&next)}, nil
}

// positionBody is one entry of PATCH /guilds/{id}/channels.
type positionBody struct {
	ID              bodyField[snowflake.ID] `json:"id"`
	Position        bodyField[int]          `json:"position"`
	LockPermissions bodyField[bool]         `json:"lock_permissions"`
	ParentID        bodyField[snowflake.ID] `json:"parent_id"`
}

// reorderChannels moves channels (position, parent) all or nothing, with
// one CHANNEL_UPDATE per channel that changed. lock_permissions on a move
// to another category copies the category's overwrites, which needs
// MANAGE_ROLES in the channel.
func reorderChannels(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageChannels, c.now); e != nil {
		return reply{}, e
	}
	var body []positionBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	if c.body == nil {
		return reply{}, discord.Invalid("_body", "BASE_TYPE_REQUIRED", "This field is required")
	}
	fe := discord.FieldErrors{}
	type move struct {
		old  *persistence.Channel
		next persistence.Channel
		lock bool
	}
	moves := make([]move, 0, len(body))
	seen := map[int64]bool{}
	for i, p := range body {
		at := strconv.Itoa(i) + "."
		var ch *persistence.Channel
		switch {
		case p.ID.Set:
			ch = c.st.channels[int64(p.ID.V)]
			if ch == nil {
				fe.Add(at+"id", "CHANNEL_INVALID", "Unknown channel.")
			} else if seen[ch.ID] {
				fe.Add(at+"id", "CHANNEL_DUPLICATE", "Each channel may appear once.")
				ch = nil
			}
		case p.ID.Bad:
			fe.Add(at+"id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
		default:
			fe.Add(at+"id", "BASE_TYPE_REQUIRED", "This field is required")
		}
		if p.LockPermissions.Bad {
			badType(fe, at+"lock_permissions")
		}
		if ch == nil {
			continue
		}
		seen[ch.ID] = true
		m := move{old: ch, next: copyChannel(ch)}
		if v, ok := intField(fe, at+"position", p.Position, 0, 1<<31-1); ok {
			m.next.Position = v
		}
		switch {
		case p.ParentID.Bad:
			badType(fe, at+"parent_id")
		case p.ParentID.Null:
			m.next.ParentID = 0
		case p.ParentID.Set:
			if id, ok := c.st.validParent(fe, at+"parent_id", ch, int64(p.ParentID.V)); ok {
				m.next.ParentID = id
			}
		}
		if p.LockPermissions.Set && p.LockPermissions.V && m.next.ParentID != 0 && m.next.ParentID != ch.ParentID {
			m.lock = true
		}
		moves = append(moves, m)
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	changed := moves[:0]
	for _, m := range moves {
		perms := c.st.channelPerms(c.actor, m.old, c.now)
		if !perms.Has(permissions.ViewChannel | permissions.ManageChannels) {
			return reply{}, discord.ErrMissingPerms
		}
		if m.lock {
			if !perms.Has(permissions.ManageRoles) {
				return reply{}, discord.ErrMissingPerms
			}
			m.next.Overwrites = slices.Clone(c.st.channels[m.next.ParentID].Overwrites)
			if m.next.Overwrites == nil {
				m.next.Overwrites = []persistence.Overwrite{}
			}
		}
		if m.next.Position != m.old.Position || m.next.ParentID != m.old.ParentID ||
			!sameOverwrites(m.old.Overwrites, m.next.Overwrites) {
			changed = append(changed, m)
		}
	}
	if len(changed) == 0 {
		return reply{status: http.StatusNoContent}, nil
	}
	olds := make([]discord.Channel, len(changed))
	befores := make([][]int64, len(changed))
	for i, m := range changed {
		olds[i], befores[i] = wireChannel(m.old), c.st.viewers(m.old, c.now)
	}
	if e := c.write(func(w *persistence.GuildWriter) error {
		for _, m := range changed {
			if err := w.PutChannel(m.next); err != nil {
				return err
			}
			if err := writeOverwrites(w, m.next.ID, m.old.Overwrites, m.next.Overwrites); err != nil {
				return err
			}
		}
		return nil
	}, func() {
		for i := range changed {
			c.st.channels[changed[i].next.ID] = &changed[i].next
		}
	}); e != nil {
		return reply{}, e
	}
	for i := range changed {
		c.emitChannelChange(olds[i], &changed[i].next, befores[i])
	}
	return reply{status: http.StatusNoContent}, nil
}

// deleteChannel deletes a channel with its overwrites and invites. The
// children of a deleted category lose their parent; a deleted system
// channel leaves the guild without one. It answers the deleted channel, as
// Discord does.
func deleteChannel(c *gcall) (reply, *discord.Error) {
	ch, e := c.channelFor(permissions.ManageChannels)
	if e != nil {
		return reply{}, e
	}
	old, before := wireChannel(ch), c.st.viewers(ch, c.now)
	inviteAudience := c.st.channelHolders(ch, permissions.ManageChannels, c.now)
	var children []persistence.Channel
	if ch.Type == discord.ChannelCategory {
		for _, o := range c.st.channels {
			if o.ParentID == ch.ID {
				next := copyChannel(o)
				next.ParentID = 0
				children = append(children, next)
			}
		}
		slices.SortFunc(children, func(a, b persistence.Channel) int { return cmp.Compare(a.ID, b.ID) })
	}
	childOlds := make([]discord.Channel, len(children))
	childBefores := make([][]int64, len(children))
	for i := range children {
		o := c.st.channels[children[i].ID]
		childOlds[i], childBefores[i] = wireChannel(o), c.st.viewers(o, c.now)
	}
	var codes []string
	for code, inv := range c.st.invites {
		if inv.ChannelID == ch.ID {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	guild := c.st.guild
	systemGone := guild.SystemChannelID == ch.ID
	if systemGone {
		guild.SystemChannelID = 0
	}
	if e := c.write(func(w *persistence.GuildWriter) error {
		// The invites and overwrites go by the foreign keys' cascade.
		if err := w.DeleteChannel(ch.ID); err != nil {
			return err
		}
		for _, child := range children {
			if err := w.PutChannel(child); err != nil {
				return err
			}
		}
		if systemGone {
			return w.UpdateGuild(guild)
		}
		return nil
	}, func() {
		delete(c.st.channels, ch.ID)
		for i := range children {
			c.st.channels[children[i].ID] = &children[i]
		}
		for _, code := range codes {
			delete(c.st.invites, code)
		}
		c.st.guild = guild
	}); e != nil {
		return reply{}, e
	}
	c.emit("CHANNEL_DELETE", ch.ID, old, before)
	for i := range children {
		c.emitChannelChange(childOlds[i], &children[i], childBefores[i])
	}
	for _, code := range codes {
		c.emit("INVITE_DELETE", ch.ID, map[string]any{"channel_id": snowflake.ID(ch.ID), "guild_id": snowflake.ID(c.g.id),
			"code": code}, inviteAudience)
	}
	if systemGone {
		c.emit("GUILD_UPDATE", 0, c.st.wireGuild(), c.st.memberIDs())
	}
	return reply{status: http.StatusOK, body: old}, nil
}

// putOverwriteBody is the body of PUT /channels/{id}/permissions/{id}.
type putOverwriteBody struct {
	Type  bodyField[overwriteKind]          `json:"type"`
	Allow bodyField[permissions.Permission] `json:"allow"`
	Deny  bodyField[permissions.Permission] `json:"deny"`
}

// putOverwrite creates or replaces the overwrite of one role or member.
// Order of checks: channel (as for reads), MANAGE_ROLES in it, the body,
// the target (404 Unknown Role or Unknown User), then the bits the actor
// may set.
func putOverwrite(c *gcall) (reply, *discord.Error) {
	ch, e := c.channelFor(permissions.ManageRoles)
	if e != nil {
		return reply{}, e
	}
	var body putOverwriteBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	fe := discord.FieldErrors{}
	switch {
	case body.Type.Bad:
		fe.Add("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 1}.")
	case !body.Type.Set:
		fe.Add("type", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if body.Allow.Bad {
		fe.Add("allow", "NUMBER_TYPE_COERCE", "Value is not a valid permission set.")
	}
	if body.Deny.Bad {
		fe.Add("deny", "NUMBER_TYPE_COERCE", "Value is not a valid permission set.")
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	target, _ := c.id("overwrite_id")
	ow := persistence.Overwrite{TargetID: target, Type: int(body.Type.V),
		Allow: uint64(body.Allow.V & permissions.All), Deny: uint64(body.Deny.V & permissions.All)}
	if ow.Type == 0 && c.st.roles[target] == nil {
		return reply{}, discord.ErrUnknownRole
	}
	if ow.Type == 1 && c.st.members[target] == nil {
		return reply{}, discord.ErrUnknownUser
	}
	held := c.st.channelPerms(c.actor, ch, c.now)
	if e := c.mayGrant(changedBits(ch.Overwrites, []persistence.Overwrite{ow}), held); e != nil {
		return reply{}, e
	}
	next := copyChannel(ch)
	if i := overwriteIndex(next.Overwrites, target); i >= 0 {
		next.Overwrites[i] = ow
	} else {
		next.Overwrites = append(next.Overwrites, ow)
	}
	old, before := wireChannel(ch), c.st.viewers(ch, c.now)
	if e := c.write(func(w *persistence.GuildWriter) error { return w.PutOverwrite(ch.ID, ow) }, func() {
		c.st.channels[ch.ID] = &next
	}); e != nil {
		return reply{}, e
	}
	c.emitChannelChange(old, &next, before)
	return reply{status: http.StatusNoContent}, nil
}

func deleteOverwrite(c *gcall) (reply, *discord.Error) {
	ch, e := c.channelFor(permissions.ManageRoles)
	if e != nil {
		return reply{}, e
	}
	target, _ := c.id("overwrite_id")
	i := overwriteIndex(ch.Overwrites, target)
	if i < 0 {
		return reply{}, discord.ErrUnknownOverwrite
	}
	next := copyChannel(ch)
	next.Overwrites = slices.Delete(next.Overwrites, i, i+1)
	old, before := wireChannel(ch), c.st.viewers(ch, c.now)
	if e := c.write(func(w *persistence.GuildWriter) error { return w.DeleteOverwrite(ch.ID, target) }, func() {
		c.st.channels[ch.ID] = &next
	}); e != nil {
		return reply{}, e
	}
	c.emitChannelChange(old, &next, before)
	return reply{status: http.StatusNoContent}, nil
}
