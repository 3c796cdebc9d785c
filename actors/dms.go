package actors

// DMs and group DMs.
//
// Who coordinates what:
//
//   - Opening a 1:1 DM and creating a group DM run on the caller's node
//     (Channels.OpenDM, Channels.CreateGroupDM), not in a grain: no grain
//     state is involved, and "one DM channel per pair" is PostgreSQL's
//     dm_pairs key (persistence.DMChannelFor), so concurrent opens from both
//     sides agree on one channel wherever they run. The user grain keeps no
//     DM state: a user's DM channels are one indexed read of dm_recipients,
//     and a copy in the user grain would be a second truth to keep current
//     from every channel grain.
//   - Everything about an existing DM channel runs in its channel grain:
//     reading it, renaming, adding and removing recipients, closing. The
//     grain's recipient list (channelGrain.dm) authorizes every message
//     operation, so membership changes go through the grain, are written
//     fenced by its owner epoch, and update the list before the events go
//     out.
//
// Rules (Discord's, with friends not implemented yet): a DM or group DM may
// be opened with, and a recipient added by, a user who shares a guild with
// the other user; a group DM has at most MaxGroupDMRecipients recipients,
// its owner included; any recipient may add others and rename the group;
// only the owner removes others, anyone may remove themselves (leave). When
// the owner leaves, ownership passes to the remaining recipient with the
// lowest id; when the last recipient leaves, the channel is deleted with its
// messages.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// MaxGroupDMRecipients is the most recipients a group DM has, its owner
// included.
const MaxGroupDMRecipients = 10

// maxGroupDMName is the longest group DM name, in characters.
const maxGroupDMName = 100

// DMStore is what DM channels need from the database, part of ChannelStore.
// *persistence.Store implements it.
type DMStore interface {
	DMChannel(ctx context.Context, channelID int64) (persistence.DMChannel, error)
	DMChannelFor(ctx context.Context, a, b, newID int64) (channelID int64, created bool, err error)
	CreateNamedGroupDM(ctx context.Context, id, ownerID int64, recipients []int64, name *string) error
	DMChannelsOf(ctx context.Context, userID int64) ([]persistence.DMChannel, error)
	SharesGuild(ctx context.Context, a, b int64) (bool, error)
	UsersSharingGuild(ctx context.Context, userID int64, others []int64) (map[int64]bool, error)
	AddGroupDMRecipient(ctx context.Context, epoch, channelID, userID int64, max int) (added bool, err error)
	RemoveGroupDMRecipient(ctx context.Context, epoch, channelID, userID int64) (persistence.GroupDMRemoval, error)
	SetGroupDMName(ctx context.Context, epoch, channelID int64, name *string) error
}

// OpenDM returns the DM channel of caller and recipient, creating it on
// first use (the same channel whichever of the two opens it). Errors are
// *discord.Error values for the caller (discord.ErrCannotDM: no shared
// guild, or the caller themself; discord.ErrInvalidRecipients: no such
// user) or ErrUnavailable.
func (ch *Channels) OpenDM(ctx context.Context, caller, recipient int64) (discord.DMChannel, error) {
	if recipient == caller {
		return discord.DMChannel{}, discord.ErrCannotDM
	}
	ctx, cancel := context.WithTimeout(ctx, ch.s.cfg.RequestTimeout)
	defer cancel()
	st := ch.s.cfg.Channels
	users, err := st.UsersByIDs(ctx, []int64{caller, recipient})
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("looking up DM recipient", err)
	}
	if _, ok := users[recipient]; !ok {
		return discord.DMChannel{}, discord.ErrInvalidRecipients
	}
	shared, err := st.SharesGuild(ctx, caller, recipient)
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("checking shared guilds", err)
	}
	if !shared {
		return discord.DMChannel{}, discord.ErrCannotDM
	}
	newID, err := ch.s.cfg.IDs.Next()
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("issuing channel id", err)
	}
	id, created, err := st.DMChannelFor(ctx, caller, recipient, int64(newID))
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("opening DM channel", err)
	}
	dm, err := st.DMChannel(ctx, id)
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("reading DM channel", err)
	}
	if created {
		// Discord tells the opener; the other user learns of the channel
		// with its first message (MESSAGE_CREATE carries channel_type).
		ch.s.publishDM("CHANNEL_CREATE", dm, users, []int64{caller})
	}
	return renderDM(dm, users, caller), nil
}

// CreateGroupDM creates a group DM owned by caller with recipients (the
// caller is added if absent; duplicates count once) and an optional name.
// Errors: discord.ErrMaxRecipients (more than MaxGroupDMRecipients in all),
// discord.ErrInvalidRecipients (an unknown user), discord.ErrCannotDM (a
// recipient shares no guild with the caller), ErrUnavailable. Nothing is
// written on error.
func (ch *Channels) CreateGroupDM(ctx context.Context, caller int64, recipients []int64, name *string) (discord.DMChannel, error) {
	others := make([]int64, 0, len(recipients))
	for _, id := range recipients {
		if id != caller && !slices.Contains(others, id) {
			others = append(others, id)
		}
	}
	if len(others)+1 > MaxGroupDMRecipients {
		return discord.DMChannel{}, discord.ErrMaxRecipients
	}
	ctx, cancel := context.WithTimeout(ctx, ch.s.cfg.RequestTimeout)
	defer cancel()
	st := ch.s.cfg.Channels
	all := append(slices.Clone(others), caller)
	slices.Sort(all)
	users, err := st.UsersByIDs(ctx, all)
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("looking up group DM recipients", err)
	}
	for _, id := range others {
		if _, ok := users[id]; !ok {
			return discord.DMChannel{}, discord.ErrInvalidRecipients
		}
	}
	if len(others) > 0 {
		sharing, err := st.UsersSharingGuild(ctx, caller, others)
		if err != nil {
			return discord.DMChannel{}, ch.unavailable("checking shared guilds", err)
		}
		for _, id := range others {
			if !sharing[id] {
				return discord.DMChannel{}, discord.ErrCannotDM
			}
		}
	}
	newID, err := ch.s.cfg.IDs.Next()
	if err != nil {
		return discord.DMChannel{}, ch.unavailable("issuing channel id", err)
	}
	if err := st.CreateNamedGroupDM(ctx, int64(newID), caller, others, name); err != nil {
		return discord.DMChannel{}, ch.unavailable("creating group DM", err)
	}
	dm := persistence.DMChannel{ID: int64(newID), Type: persistence.ChannelTypeGroupDM, OwnerID: caller, Name: name, Recipients: all}
	ch.s.publishDM("CHANNEL_CREATE", dm, users, all)
	return renderDM(dm, users, caller), nil
}

// DMChannelsOf lists the DM and group DM channels caller is a recipient
// of, most recently active first, rendered for caller.
func (ch *Channels) DMChannelsOf(ctx context.Context, caller int64) ([]discord.DMChannel, error) {
	ctx, cancel := context.WithTimeout(ctx, ch.s.cfg.RequestTimeout)
	defer cancel()
	st := ch.s.cfg.Channels
	dms, err := st.DMChannelsOf(ctx, caller)
	if err != nil {
		return nil, ch.unavailable("listing DM channels", err)
	}
	var ids []int64
	for _, dm := range dms {
		for _, id := range dm.Recipients {
			if id != caller && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	users, err := st.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, ch.unavailable("looking up DM recipients", err)
	}
	out := make([]discord.DMChannel, 0, len(dms))
	for _, dm := range dms {
		out = append(out, renderDM(dm, users, caller))
	}
	return out, nil
}

func (ch *Channels) unavailable(what string, err error) error {
	ch.s.log.Error(what+" failed", slog.Any("error", err))
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
}

// renderDM is dm's channel object as viewer sees it: every recipient but
// the viewer (users missing from users are left out).
func renderDM(dm persistence.DMChannel, users map[int64]persistence.User, viewer int64) discord.DMChannel {
	out := discord.DMChannel{ID: snowflake.ID(dm.ID), Type: dm.Type, LastMessageID: sfPtr(dm.LastMessageID), Recipients: []discord.User{}}
	for _, id := range dm.Recipients {
		if u, ok := users[id]; ok && id != viewer {
			out.Recipients = append(out.Recipients, wireUser(u))
		}
	}
	if dm.Type == discord.ChannelGroupDM {
		out.GroupDM = &discord.GroupDM{Name: dm.Name, OwnerID: snowflake.ID(dm.OwnerID)}
	}
	return out
}

// publishDM sends a channel event carrying dm's object to each user of to,
// rendered for that user (Discord leaves the receiver out of recipients),
// so it is encoded once per receiver: at most MaxGroupDMRecipients.
func (s *System) publishDM(typ string, dm persistence.DMChannel, users map[int64]persistence.User, to []int64) {
	for _, uid := range to {
		b, err := json.Marshal(renderDM(dm, users, uid))
		if err != nil {
			s.log.Error("encoding event failed", slog.String("type", typ), slog.Any("error", err))
			return
		}
		s.Publish(Event{Type: typ, ChannelID: dm.ID, Data: b, Recipients: []int64{uid}})
	}
}

// The DM channel's operations in its channel grain.
func init() {
	registerChannelOps(map[string]channelOp{
		"dm.get":           getDM,
		"dm.update":        updateDM,
		"dm.close":         closeDM,
		"dm.unsupported":   func(*ccall) (reply, *discord.Error) { return reply{}, discord.ErrDMChannelAction },
		"recipient.add":    addRecipient,
		"recipient.remove": removeRecipient,
	})
}

// loadDM learns a DM channel's kind and recipients when the grain loads.
func (g *channelGrain) loadDM(ctx context.Context) error {
	dm, err := g.sys.cfg.Channels.DMChannel(ctx, g.id)
	if errors.Is(err, persistence.ErrNotFound) {
		g.missing = true
		return nil
	}
	if err != nil {
		return err
	}
	g.dm, g.dmKind = dm.Recipients, dm.Type
	return nil
}

// dmState reads the channel (for its name, owner and last message) with
// its recipients as users.
func (c *ccall) dmState() (persistence.DMChannel, map[int64]persistence.User, *discord.Error) {
	g := c.g
	if g.guildID != 0 {
		return persistence.DMChannel{}, nil, discord.ErrChannelTypeAction
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	dm, err := g.sys.cfg.Channels.DMChannel(ctx, g.id)
	if err != nil {
		return dm, nil, g.dmStoreErr(c, err)
	}
	users, err := g.sys.cfg.Channels.UsersByIDs(ctx, dm.Recipients)
	if err != nil {
		return dm, nil, errStore
	}
	return dm, users, nil
}

// dmStoreErr maps a failed DM write; ErrNotFound means the channel is gone.
func (g *channelGrain) dmStoreErr(c *ccall, err error) *discord.Error {
	if errors.Is(err, persistence.ErrNotFound) {
		return discord.ErrUnknownChannel
	}
	return g.storeErr(c.ctx, err)
}

// groupOnly fails unless the channel is a group DM.
func (c *ccall) groupOnly() *discord.Error {
	switch {
	case c.g.guildID != 0:
		return discord.ErrChannelTypeAction
	case c.g.dmKind != discord.ChannelGroupDM:
		return discord.ErrDMChannelAction
	}
	return nil
}

// targetUser is the :user_id of a recipient route.
func (c *ccall) targetUser() (int64, *discord.Error) {
	id, err := snowflake.Parse(c.params["user_id"])
	if err != nil || id <= 0 {
		return 0, discord.ErrUnknownUser
	}
	return int64(id), nil
}

func getDM(c *ccall) (reply, *discord.Error) {
	dm, users, e := c.dmState()
	if e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusOK, body: renderDM(dm, users, c.actor)}, nil
}

// updateDM is PATCH /channels/{id} on a group DM: any recipient may rename
// it. The icon needs uploads, which Accord does not have yet: it is ignored.
func updateDM(c *ccall) (reply, *discord.Error) {
	if e := c.groupOnly(); e != nil {
		return reply{}, e
	}
	var body struct {
		Name json.RawMessage `json:"name"`
	}
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	dm, users, e := c.dmState()
	if e != nil {
		return reply{}, e
	}
	if len(body.Name) == 0 {
		return reply{status: http.StatusOK, body: renderDM(dm, users, c.actor)}, nil
	}
	var name *string
	if string(body.Name) != "null" {
		var s string
		if json.Unmarshal(body.Name, &s) != nil {
			return reply{}, discord.Invalid("name", "BASE_TYPE_STRING", "Must be a string.")
		}
		if utf8.RuneCountInString(s) > maxGroupDMName {
			return reply{}, discord.Invalid("name", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
		}
		if s != "" {
			name = &s
		}
	}
	if (name == nil) == (dm.Name == nil) && (name == nil || *name == *dm.Name) {
		return reply{status: http.StatusOK, body: renderDM(dm, users, c.actor)}, nil
	}
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	if err := g.sys.cfg.Channels.SetGroupDMName(ctx, g.epoch, g.id, name); err != nil {
		return reply{}, g.dmStoreErr(c, err)
	}
	dm.Name = name
	g.sys.publishDM("CHANNEL_UPDATE", dm, users, g.dm)
	return reply{status: http.StatusOK, body: renderDM(dm, users, c.actor)}, nil
}

// closeDM is DELETE /channels/{id} on a DM channel (Discord's "Close DM"):
// leaving, for a group DM. A 1:1 DM has no per-user open state in Accord
// yet, so closing one changes nothing; it answers the channel as Discord
// does.
func closeDM(c *ccall) (reply, *discord.Error) {
	dm, users, e := c.dmState()
	if e != nil {
		return reply{}, e
	}
	out := renderDM(dm, users, c.actor)
	if c.g.dmKind == discord.ChannelGroupDM {
		if e := c.removeMember(dm, users, c.actor); e != nil {
			return reply{}, e
		}
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// addRecipient is PUT /channels/{id}/recipients/{user_id}: any recipient
// adds a user who shares a guild with them.
func addRecipient(c *ccall) (reply, *discord.Error) {
	if e := c.groupOnly(); e != nil {
		return reply{}, e
	}
	target, e := c.targetUser()
	if e != nil {
		return reply{}, e
	}
	g := c.g
	if slices.Contains(g.dm, target) {
		return reply{status: http.StatusNoContent}, nil
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	found, err := g.sys.cfg.Channels.UsersByIDs(ctx, []int64{target})
	if err != nil {
		return reply{}, errStore
	}
	if _, ok := found[target]; !ok {
		return reply{}, discord.ErrUnknownUser
	}
	shared, err := g.sys.cfg.Channels.SharesGuild(ctx, c.actor, target)
	if err != nil {
		return reply{}, errStore
	}
	if !shared {
		return reply{}, discord.ErrCannotDM
	}
	if len(g.dm) >= MaxGroupDMRecipients {
		return reply{}, discord.ErrMaxRecipients
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	added, err := g.sys.cfg.Channels.AddGroupDMRecipient(ctx, g.epoch, g.id, target, MaxGroupDMRecipients)
	switch {
	case errors.Is(err, persistence.ErrGroupDMFull):
		return reply{}, discord.ErrMaxRecipients
	case err != nil:
		return reply{}, g.dmStoreErr(c, err)
	}
	i, _ := slices.BinarySearch(g.dm, target)
	g.dm = slices.Insert(g.dm, i, target)
	if !added {
		// Already a recipient in the store: nothing changed.
		return reply{status: http.StatusNoContent}, nil
	}
	dm, users, e := c.dmState()
	if e != nil {
		// Written; only the events are lost.
		return reply{status: http.StatusNoContent}, nil
	}
	g.dm = dm.Recipients // read under this grain's epoch: authoritative
	c.emit("CHANNEL_RECIPIENT_ADD", discord.RecipientEvent{ChannelID: snowflake.ID(g.id), User: wireUser(users[target])}, g.dm)
	g.sys.publishDM("CHANNEL_CREATE", dm, users, []int64{target})
	return reply{status: http.StatusNoContent}, nil
}

// removeRecipient is DELETE /channels/{id}/recipients/{user_id}: the owner
// removes anyone, every recipient may remove themself. Removing a user who
// is not a recipient changes nothing (204).
func removeRecipient(c *ccall) (reply, *discord.Error) {
	if e := c.groupOnly(); e != nil {
		return reply{}, e
	}
	target, e := c.targetUser()
	if e != nil {
		return reply{}, e
	}
	dm, users, e := c.dmState()
	if e != nil {
		return reply{}, e
	}
	if target != c.actor && c.actor != dm.OwnerID {
		return reply{}, discord.ErrMissingPerms
	}
	if !slices.Contains(c.g.dm, target) {
		return reply{status: http.StatusNoContent}, nil
	}
	if e := c.removeMember(dm, users, target); e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusNoContent}, nil
}

// removeMember takes target out of the group DM dm (as read before),
// passing ownership on or deleting the emptied channel, and tells everyone.
func (c *ccall) removeMember(dm persistence.DMChannel, users map[int64]persistence.User, target int64) *discord.Error {
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	res, err := g.sys.cfg.Channels.RemoveGroupDMRecipient(ctx, g.epoch, g.id, target)
	if err != nil {
		return g.dmStoreErr(c, err)
	}
	before := g.dm
	g.dm = slices.DeleteFunc(slices.Clone(g.dm), func(id int64) bool { return id == target })
	if !res.Removed {
		return nil
	}
	u, ok := users[target]
	if !ok {
		u = persistence.User{ID: target}
	}
	c.emit("CHANNEL_RECIPIENT_REMOVE", discord.RecipientEvent{ChannelID: snowflake.ID(g.id), User: wireUser(u)}, before)
	g.sys.publishDM("CHANNEL_DELETE", dm, users, []int64{target})
	if res.Deleted {
		// The last recipient left: the channel is gone. Later calls answer
		// Unknown Channel; the next activation finds no channel either.
		g.dm, g.missing = nil, true
		return nil
	}
	if res.OwnerID != dm.OwnerID {
		dm.OwnerID, dm.Recipients = res.OwnerID, g.dm
		g.sys.publishDM("CHANNEL_UPDATE", dm, users, g.dm)
	}
	return nil
}
