package rest

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// ReactionPinReader is what the reaction and pin read paths need besides
// the rest of MessageStore. *persistence.Store implements it.
type ReactionPinReader interface {
	ReactionUsers(ctx context.Context, channelID, messageID int64, emoji string, after int64, limit int) ([]int64, error)
	PinnedMessages(ctx context.Context, channelID int64) ([]persistence.Message, error)
}

// The writes (reactions, pins, bulk delete) are channel grain operations in
// messageRoutes; these are their reads.
func (s *Server) mountReactions(g *gin.RouterGroup) {
	g.GET("/channels/:channel_id/messages/:message_id/reactions/:emoji", s.reactionUsers)
	g.GET("/channels/:channel_id/pins", s.legacyPins)
	g.GET("/channels/:channel_id/messages/pins", s.pins)
}

// readTarget authorizes a history read of the channel in the path.
func (s *Server) readTarget(c *gin.Context) (target, bool) {
	t, e := s.authorizeChannel(c, nil)
	if e == nil {
		e = canReadHistory(t)
	}
	if e != nil {
		writeError(c, e)
		return target{}, false
	}
	return t, true
}

// reactionUsers lists who reacted to a message with one emoji, by ascending
// user id: ?after (a user id), ?limit 1–100 (default 25), ?type 0 (normal)
// or 1 (burst: Accord has no super reactions, so always empty).
func (s *Server) reactionUsers(c *gin.Context) {
	emoji, e := actors.ParseEmoji(c.Param("emoji"))
	if e != nil {
		writeError(c, e)
		return
	}
	limit := 25
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeError(c, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 100."))
			return
		}
		limit = n
	}
	var after snowflake.ID
	if v := c.Query("after"); v != "" {
		id, err := snowflake.Parse(v)
		if err != nil {
			writeError(c, discord.Invalid("after", "NUMBER_TYPE_COERCE", "Value \""+v+"\" is not snowflake."))
			return
		}
		after = id
	}
	burst := false
	switch c.Query("type") {
	case "", "0":
	case "1":
		burst = true
	default:
		writeError(c, discord.Invalid("type", "ENUM_TYPE_COERCE", "Value \""+c.Query("type")+"\" is not a valid enum value."))
		return
	}
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	mid, err := snowflake.Parse(c.Param("message_id"))
	if err != nil {
		writeError(c, discord.ErrUnknownMessage)
		return
	}
	if _, err := s.cfg.Messages.MessageByID(ctx, t.channelID, int64(mid)); err != nil {
		if errors.Is(err, persistence.ErrNotFound) {
			writeError(c, discord.ErrUnknownMessage)
			return
		}
		s.fail(c, "reading message", err)
		return
	}
	if burst {
		writeJSON(c, http.StatusOK, []discord.User{})
		return
	}
	// A custom emoji is found by its id whatever name the client sent.
	all, err := s.cfg.Messages.ReactionsFor(ctx, t.channelID, []int64{int64(mid)}, 0)
	if err != nil {
		s.fail(c, "reading reactions", err)
		return
	}
	r, ok := actors.MatchReaction(all[int64(mid)], emoji)
	if !ok {
		writeJSON(c, http.StatusOK, []discord.User{})
		return
	}
	ids, err := s.cfg.Messages.ReactionUsers(ctx, t.channelID, int64(mid), r.Emoji, int64(after), limit)
	if err != nil {
		s.fail(c, "reading reactions", err)
		return
	}
	users, err := s.cfg.Messages.UsersByIDs(ctx, ids)
	if err != nil {
		s.fail(c, "reading users", err)
		return
	}
	out := actors.UsersInOrder(users, ids)
	writeJSON(c, http.StatusOK, out)
}

// pinnedMessages reads and renders a channel's pins, most recently pinned
// first.
func (s *Server) pinnedMessages(c *gin.Context, t target) ([]persistence.Message, []discord.Message, bool) {
	ctx := c.Request.Context()
	pins, err := s.cfg.Messages.PinnedMessages(ctx, t.channelID)
	if err != nil {
		s.fail(c, "reading pins", err)
		return nil, nil, false
	}
	out, err := s.render(ctx, t.channelID, caller(c).UserID, pins)
	if err != nil {
		s.fail(c, "rendering pins", err)
		return nil, nil, false
	}
	return pins, out, true
}

// legacyPins is GET /channels/{id}/pins (deprecated on Discord, used by
// discordgo): every pinned message, most recently pinned first.
func (s *Server) legacyPins(c *gin.Context) {
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	if _, out, ok := s.pinnedMessages(c, t); ok {
		writeJSON(c, http.StatusOK, out)
	}
}

// messagePin is one item of the newer pins list.
type messagePin struct {
	PinnedAt time.Time       `json:"pinned_at"`
	Message  discord.Message `json:"message"`
}

type pinsPage struct {
	Items   []messagePin `json:"items"`
	HasMore bool         `json:"has_more"`
}

// pins is GET /channels/{id}/messages/pins: {items: [{pinned_at, message}],
// has_more}, most recently pinned first, ?before (an ISO 8601 pin time) and
// ?limit 1–50 (default 50).
func (s *Server) pins(c *gin.Context) {
	limit := actors.MaxPins
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			writeError(c, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 50."))
			return
		}
		limit = n
	}
	var before time.Time
	if v := c.Query("before"); v != "" {
		ts, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			writeError(c, discord.Invalid("before", "DATE_TYPE_PARSE", "Could not parse "+v+". Should be ISO8601."))
			return
		}
		before = ts
	}
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	pins, out, ok := s.pinnedMessages(c, t)
	if !ok {
		return
	}
	page := pinsPage{Items: []messagePin{}}
	for i, m := range pins {
		if m.PinnedAt == nil || (!before.IsZero() && !m.PinnedAt.Before(before)) {
			continue
		}
		if len(page.Items) == limit {
			page.HasMore = true
			break
		}
		page.Items = append(page.Items, messagePin{PinnedAt: m.PinnedAt.UTC(), Message: out[i]})
	}
	writeJSON(c, http.StatusOK, page)
}
