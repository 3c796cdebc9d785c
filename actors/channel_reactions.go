package actors

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Reactions: add, remove one user's, remove all, remove one emoji's. Every
// write is a fenced transaction done in the mailbox, so the checks before it
// (the emoji limit, "is this emoji new on the message") cannot race another
// write to the same channel.
func init() {
	registerChannelOps(map[string]channelOp{
		"reaction.add":           addReaction,
		"reaction.remove_me":     removeOwnReaction,
		"reaction.remove_user":   removeUserReaction,
		"reactions.remove_all":   removeAllReactions,
		"reactions.remove_emoji": removeEmojiReactions,
	})
}

// ReactionPinStore is the part of the channel grain's store that reactions
// and pins use. *persistence.Store implements it.
type ReactionPinStore interface {
	ReactionsFor(ctx context.Context, channelID int64, messageIDs []int64, viewer int64) (map[int64][]persistence.Reaction, error)
	AddReaction(ctx context.Context, epoch, channelID, messageID int64, emoji string, userID int64) (bool, error)
	RemoveReaction(ctx context.Context, epoch, channelID, messageID int64, emoji string, userID int64) (bool, error)
	RemoveAllReactions(ctx context.Context, epoch, channelID, messageID int64) error
	RemoveEmojiReactions(ctx context.Context, epoch, channelID, messageID int64, emoji string) error
	SetPinned(ctx context.Context, epoch, channelID, id int64, at *time.Time) error
	CountPins(ctx context.Context, channelID int64) (int, error)
	PinnedMessages(ctx context.Context, channelID int64) ([]persistence.Message, error)
}

// MaxReactionEmoji is how many distinct emoji one message may carry, as on
// Discord.
const MaxReactionEmoji = 20

// ErrDMAction is Discord's 50003: moderation of others (bulk deletes,
// removing someone else's reactions) does not exist in DM channels.
var ErrDMAction = &discord.Error{Status: http.StatusForbidden, Code: 50003, Message: "Cannot execute action on a DM channel"}

// customEmoji is "name:id" or, as discord.js sends an animated emoji's
// identifier, "a:name:id".
var customEmoji = regexp.MustCompile(`^(?:a:)?(\w{2,32}):([0-9]{1,20})$`)

// maxEmojiRunes bounds a unicode emoji: the longest standard sequences (a
// kiss with two skin tones, tagged subdivision flags) have 10 code points.
const maxEmojiRunes = 16

// ParseEmoji validates a reaction's emoji as it appears (percent-decoded) in
// a URL and returns its canonical form: a unicode emoji as given, a custom
// emoji as "name:id". Anything else is Unknown Emoji (10014).
//
// Accord keeps no table of Unicode emoji, so a unicode emoji is checked by
// shape: at most a few code points, each from the emoji blocks (symbols,
// pictographs, dingbats, regional indicators, skin tones, joiners, variation
// selectors, tags), or a keycap sequence such as "1️⃣". Plain words, ASCII
// and spaces are rejected. Custom emoji are not checked against a guild's
// emoji list (Accord has no custom emoji yet): any well-formed one is kept.
func ParseEmoji(raw string) (string, *discord.Error) {
	if m := customEmoji.FindStringSubmatch(raw); m != nil {
		id, err := snowflake.Parse(m[2])
		if err != nil || id == 0 {
			return "", discord.ErrUnknownEmoji
		}
		return m[1] + ":" + id.String(), nil
	}
	n := utf8.RuneCountInString(raw)
	if raw == "" || n > maxEmojiRunes || !utf8.ValidString(raw) {
		return "", discord.ErrUnknownEmoji
	}
	if isKeycap(raw) {
		return raw, nil
	}
	for i, r := range raw {
		if !emojiRune(r) || (i == 0 && emojiModifier(r)) {
			return "", discord.ErrUnknownEmoji
		}
	}
	return raw, nil
}

// isKeycap reports a keycap emoji: [0-9#*], an optional U+FE0F, U+20E3.
func isKeycap(s string) bool {
	if len(s) < 2 || !strings.ContainsRune("0123456789#*", rune(s[0])) {
		return false
	}
	rest := strings.TrimPrefix(s[1:], "\uFE0F")
	return rest == "\u20E3"
}

func emojiRune(r rune) bool {
	switch {
	case r == 0xA9 || r == 0xAE: // © ®
		return true
	case r >= 0x2000 && r <= 0x3300: // punctuation symbols, arrows, misc technical and symbols, dingbats, CJK marks
		return true
	case r >= 0x1F000 && r <= 0x1FAFF: // mahjong … symbols and pictographs extended-A, regional indicators, skin tones
		return true
	case r == 0xFE0E || r == 0xFE0F: // variation selectors
		return true
	case r >= 0xE0020 && r <= 0xE007F: // tags (subdivision flags)
		return true
	}
	return false
}

// emojiModifier is a code point that only continues a sequence.
func emojiModifier(r rune) bool {
	return r == 0x200D || r == 0xFE0E || r == 0xFE0F || r == 0x20E3 || (r >= 0xE0020 && r <= 0xE007F) ||
		(r >= 0x1F3FB && r <= 0x1F3FF)
}

// WireEmoji is the partial emoji object of a stored emoji: {id: null, name}
// for a unicode emoji, {id, name} for a custom one.
func WireEmoji(emoji string) discord.Emoji {
	if name, id, ok := strings.Cut(emoji, ":"); ok {
		if sid, err := snowflake.Parse(id); err == nil {
			return discord.Emoji{ID: &sid, Name: name}
		}
	}
	return discord.Emoji{Name: emoji}
}

// MatchReaction finds emoji among a message's reactions. Custom emoji are
// one emoji per id whatever name a client sends with it, as on Discord, so
// "other_name:id" finds the reaction stored as "name:id".
func MatchReaction(reactions []persistence.Reaction, emoji string) (persistence.Reaction, bool) {
	_, id, custom := strings.Cut(emoji, ":")
	for _, r := range reactions {
		if r.Emoji == emoji {
			return r, true
		}
		if custom {
			if _, rid, ok := strings.Cut(r.Emoji, ":"); ok && rid == id {
				return r, true
			}
		}
	}
	return persistence.Reaction{}, false
}

// reactionTarget is what every reaction op starts from: the message (which
// must be in this channel) and its reactions as viewer sees them.
type reactionTarget struct {
	msg       persistence.Message
	emoji     string // canonical; the stored spelling when the emoji is already on the message
	reactions []persistence.Reaction
	existing  *persistence.Reaction // emoji's reaction, when there is one
}

// reactionTarget loads the message and its reactions. withEmoji parses the
// emoji parameter first (Unknown Emoji before anything else).
func (c *ccall) reactionTarget(withEmoji bool, viewer int64) (*reactionTarget, *discord.Error) {
	t := &reactionTarget{}
	if withEmoji {
		emoji, e := ParseEmoji(c.params["emoji"])
		if e != nil {
			return nil, e
		}
		t.emoji = emoji
	}
	id, e := c.messageID()
	if e != nil {
		return nil, e
	}
	g := c.g
	ctx, cancel := g.storeCtx()
	defer cancel()
	msg, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, id)
	if err != nil {
		return nil, g.storeErr(c.ctx, err)
	}
	t.msg = msg
	all, err := g.sys.cfg.Channels.ReactionsFor(ctx, g.id, []int64{id}, viewer)
	if err != nil {
		return nil, g.storeErr(c.ctx, err)
	}
	t.reactions = all[id]
	if withEmoji {
		if r, ok := MatchReaction(t.reactions, t.emoji); ok {
			t.existing, t.emoji = &r, r.Emoji
		}
	}
	return t, nil
}

// reactionEvent is the payload of MESSAGE_REACTION_ADD and _REMOVE.
type reactionEvent struct {
	UserID          snowflake.ID    `json:"user_id"`
	ChannelID       snowflake.ID    `json:"channel_id"`
	MessageID       snowflake.ID    `json:"message_id"`
	GuildID         *snowflake.ID   `json:"guild_id,omitempty"`
	Member          *discord.Member `json:"member,omitempty"`
	Emoji           discord.Emoji   `json:"emoji"`
	MessageAuthorID *snowflake.ID   `json:"message_author_id,omitempty"`
	Burst           bool            `json:"burst"`
	BurstColors     []string        `json:"burst_colors,omitempty"`
	Type            int             `json:"type"`
}

func (c *ccall) reactionEvent(user, message int64, emoji string) reactionEvent {
	ev := reactionEvent{UserID: snowflake.ID(user), ChannelID: snowflake.ID(c.g.id), MessageID: snowflake.ID(message),
		Emoji: WireEmoji(emoji)}
	if c.g.guildID != 0 {
		ev.GuildID = sfPtr(c.g.guildID)
	}
	return ev
}

func addReaction(c *ccall) (reply, *discord.Error) {
	perms := c.authz.Permissions
	if !perms.Has(permissions.ReadMessageHistory) {
		return reply{}, discord.ErrMissingPerms
	}
	t, e := c.reactionTarget(true, c.actor)
	if e != nil {
		return reply{}, e
	}
	if t.existing != nil && t.existing.Me {
		return reply{status: http.StatusNoContent}, nil
	}
	// Anyone who can read the history may join an existing reaction;
	// starting a new one takes ADD_REACTIONS and room for another emoji.
	if t.existing == nil {
		if !perms.Has(permissions.AddReactions) {
			return reply{}, discord.ErrMissingPerms
		}
		if len(t.reactions) >= MaxReactionEmoji {
			return reply{}, discord.ErrMaxReactions
		}
	}
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	added, err := g.sys.cfg.Channels.AddReaction(ctx, g.epoch, g.id, t.msg.ID, t.emoji, c.actor)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if added {
		ev := c.reactionEvent(c.actor, t.msg.ID, t.emoji)
		ev.MessageAuthorID = sfPtr(t.msg.AuthorID)
		ev.BurstColors = []string{}
		if g.guildID != 0 && c.authz.Member != nil {
			m := *c.authz.Member
			author := c.authz.Author
			m.User = &author
			ev.Member = &m
		}
		c.emit("MESSAGE_REACTION_ADD", ev, c.authz.Viewers)
	}
	return reply{status: http.StatusNoContent}, nil
}

func removeOwnReaction(c *ccall) (reply, *discord.Error) {
	return c.removeReaction(c.actor)
}

// removeUserReaction removes someone's reaction: the actor's own needs
// nothing more, anyone else's MANAGE_MESSAGES, which DM channels do not have.
func removeUserReaction(c *ccall) (reply, *discord.Error) {
	raw := c.params["user_id"]
	if raw == "@me" {
		return c.removeReaction(c.actor)
	}
	if _, e := ParseEmoji(c.params["emoji"]); e != nil {
		return reply{}, e
	}
	user, err := snowflake.Parse(raw)
	if err != nil || user == 0 {
		return reply{}, discord.ErrUnknownUser
	}
	if int64(user) != c.actor {
		if c.g.guildID == 0 {
			return reply{}, ErrDMAction
		}
		if !c.authz.Permissions.Has(permissions.ManageMessages) {
			return reply{}, discord.ErrMissingPerms
		}
	}
	return c.removeReaction(int64(user))
}

func (c *ccall) removeReaction(user int64) (reply, *discord.Error) {
	t, e := c.reactionTarget(true, user)
	if e != nil {
		return reply{}, e
	}
	if t.existing == nil || !t.existing.Me {
		return reply{status: http.StatusNoContent}, nil
	}
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	removed, err := g.sys.cfg.Channels.RemoveReaction(ctx, g.epoch, g.id, t.msg.ID, t.emoji, user)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if removed {
		c.emit("MESSAGE_REACTION_REMOVE", c.reactionEvent(user, t.msg.ID, t.emoji), c.authz.Viewers)
	}
	return reply{status: http.StatusNoContent}, nil
}

// moderateReactions is the check of the remove-all and remove-emoji ops.
func (c *ccall) moderateReactions() *discord.Error {
	if c.g.guildID == 0 {
		return ErrDMAction
	}
	if !c.authz.Permissions.Has(permissions.ManageMessages) {
		return discord.ErrMissingPerms
	}
	return nil
}

func removeAllReactions(c *ccall) (reply, *discord.Error) {
	if e := c.moderateReactions(); e != nil {
		return reply{}, e
	}
	t, e := c.reactionTarget(false, c.actor)
	if e != nil {
		return reply{}, e
	}
	if len(t.reactions) == 0 {
		return reply{status: http.StatusNoContent}, nil
	}
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	if err := g.sys.cfg.Channels.RemoveAllReactions(ctx, g.epoch, g.id, t.msg.ID); err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	c.emit("MESSAGE_REACTION_REMOVE_ALL", map[string]any{"channel_id": snowflake.ID(g.id),
		"message_id": snowflake.ID(t.msg.ID), "guild_id": snowflake.ID(g.guildID)}, c.authz.Viewers)
	return reply{status: http.StatusNoContent}, nil
}

func removeEmojiReactions(c *ccall) (reply, *discord.Error) {
	if _, e := ParseEmoji(c.params["emoji"]); e != nil {
		return reply{}, e
	}
	if e := c.moderateReactions(); e != nil {
		return reply{}, e
	}
	t, e := c.reactionTarget(true, c.actor)
	if e != nil {
		return reply{}, e
	}
	if t.existing == nil {
		return reply{status: http.StatusNoContent}, nil
	}
	g := c.g
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	if err := g.sys.cfg.Channels.RemoveEmojiReactions(ctx, g.epoch, g.id, t.msg.ID, t.emoji); err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	c.emit("MESSAGE_REACTION_REMOVE_EMOJI", map[string]any{"channel_id": snowflake.ID(g.id), "guild_id": snowflake.ID(g.guildID),
		"message_id": snowflake.ID(t.msg.ID), "emoji": WireEmoji(t.emoji)}, c.authz.Viewers)
	return reply{status: http.StatusNoContent}, nil
}

// UsersInOrder renders ids as user objects in their order, a deleted
// account as "Deleted User".
func UsersInOrder(known map[int64]persistence.User, ids []int64) []discord.User {
	out := make([]discord.User, 0, len(ids))
	for _, id := range ids {
		out = append(out, userOrGhost(known, id))
	}
	return out
}
