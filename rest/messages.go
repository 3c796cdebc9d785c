package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/gin-gonic/gin"
)

// ChannelDirectory runs channel operations in their channel grains.
type ChannelDirectory interface {
	Call(ctx context.Context, req actors.ChannelRequest) (actors.GuildResponse, error)
	// CallAuthorized runs req in a guild channel's grain with the
	// authorization of the guild's grain (see actors.Channels).
	CallAuthorized(ctx context.Context, guildID int64, authParams map[string]string, req actors.ChannelRequest) (actors.GuildResponse, bool, error)
}

// MessageStore is what the message read paths need. Reads come straight
// from PostgreSQL once the grains have authorized them: a 200 on a send
// means the row is there.
type MessageStore interface {
	MessagesPage(ctx context.Context, channelID int64, q persistence.PageQuery) ([]persistence.Message, error)
	MessageByID(ctx context.Context, channelID, id int64) (persistence.Message, error)
	MessageEdits(ctx context.Context, channelID, id int64) ([]persistence.Edit, error)
	ReactionsFor(ctx context.Context, channelID int64, messageIDs []int64, viewer int64) (map[int64][]persistence.Reaction, error)
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]persistence.User, error)
	ReactionPinReader
}

// messageRoute maps a message write onto a channel grain operation.
type messageRoute struct {
	method, path, op string
}

// messageRoutes are the writes the channel grain serves.
var messageRoutes = []messageRoute{
	{"POST", "/channels/:channel_id/messages", "message.create"},
	{"PATCH", "/channels/:channel_id/messages/:message_id", "message.update"},
	{"DELETE", "/channels/:channel_id/messages/:message_id", "message.delete"},
	{"POST", "/channels/:channel_id/typing", "typing"},
	{"POST", "/channels/:channel_id/messages/bulk-delete", "messages.bulk_delete"},
	{"PUT", "/channels/:channel_id/messages/:message_id/reactions/:emoji/@me", "reaction.add"},
	{"DELETE", "/channels/:channel_id/messages/:message_id/reactions/:emoji/@me", "reaction.remove_me"},
	{"DELETE", "/channels/:channel_id/messages/:message_id/reactions/:emoji/:user_id", "reaction.remove_user"},
	{"DELETE", "/channels/:channel_id/messages/:message_id/reactions/:emoji", "reactions.remove_emoji"},
	{"DELETE", "/channels/:channel_id/messages/:message_id/reactions", "reactions.remove_all"},
	{"PUT", "/channels/:channel_id/pins/:message_id", "pin.add"},
	{"DELETE", "/channels/:channel_id/pins/:message_id", "pin.remove"},
	{"PUT", "/channels/:channel_id/messages/pins/:message_id", "pin.add"},
	{"DELETE", "/channels/:channel_id/messages/pins/:message_id", "pin.remove"},
}

func (s *Server) mountMessages(g *gin.RouterGroup, native bool) {
	for _, r := range messageRoutes {
		g.Handle(r.method, r.path, s.messageHandler(r))
	}
	g.GET("/channels/:channel_id/messages", s.listMessages)
	g.GET("/channels/:channel_id/messages/:message_id", s.getMessage)
	s.mountReactions(g)
	if native {
		g.GET("/channels/:channel_id/messages/:message_id/edits", s.messageEdits)
	}
}

// target is a channel resolved for a message request: its guild (0 for a
// DM) and the actor's authorization there, encoded as the grain answered it
// (raw) and decoded.
type target struct {
	channelID, guildID int64
	authz              actors.ChannelAuthz
	raw                []byte
}

// authorizeChannel asks the channel's guild grain (or, for a DM, its channel
// grain) what the actor may do there. body, when set, is the message body
// whose mentions to resolve.
func (s *Server) authorizeChannel(c *gin.Context, body []byte) (target, *discord.Error) {
	t, e := s.authorizeRaw(c, body, false)
	if e != nil {
		return t, e
	}
	a, _, _, err := actors.DecodeAuthz(t.raw)
	if err != nil {
		return target{}, discord.ErrInternal
	}
	t.authz = a
	return t, nil
}

// authorizeRaw is authorizeChannel without decoding the answer, for the
// writes, which only pass it on to the channel grain; allViewers asks the
// guild grain to include the channel's viewers even if it sent them before.
func (s *Server) authorizeRaw(c *gin.Context, body []byte, allViewers bool) (target, *discord.Error) {
	ctx := c.Request.Context()
	id, err := snowflake.Parse(c.Param("channel_id"))
	if err != nil {
		return target{}, discord.ErrUnknownChannel
	}
	t := target{channelID: int64(id)}
	guildID, e := s.channelOwner(ctx, int64(id))
	if e != nil {
		return target{}, e
	}
	t.guildID = guildID
	var resp actors.GuildResponse
	if guildID != 0 {
		params := map[string]string{"channel_id": c.Param("channel_id")}
		if allViewers {
			params["viewers"] = "all"
		}
		resp, err = s.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: guildID, Op: "channel.authorize", ActorID: caller(c).UserID,
			Params: params, Body: body})
	} else {
		resp, err = s.cfg.Channels.Call(ctx, actors.ChannelRequest{ChannelID: t.channelID, Op: "authorize", ActorID: caller(c).UserID, Body: body})
	}
	if err != nil {
		return target{}, grainFailure(err)
	}
	if resp.Status != http.StatusOK {
		return target{}, authzRefusal(resp)
	}
	t.raw = resp.Body
	return t, nil
}

// authzRefusal maps an authorization's refusal to its error.
func authzRefusal(resp actors.GuildResponse) *discord.Error {
	if bytes.Contains(resp.Body, []byte(`"code":10004`)) {
		return discord.ErrUnknownChannel
	}
	var de discord.Error
	if json.Unmarshal(resp.Body, &de) != nil {
		return discord.ErrInternal
	}
	de.Status = resp.Status
	return &de
}

func grainFailure(err error) *discord.Error {
	if retryable(err) {
		return discord.ErrUnavailable
	}
	return discord.ErrInternal
}

// channelOwner is the guild of a channel (0 for a DM), cached: channels
// never change guild.
func (s *Server) channelOwner(ctx context.Context, id int64) (int64, *discord.Error) {
	e, de := s.channelEntry(ctx, id)
	if de != nil {
		return 0, de
	}
	return e.guild, nil
}

// channelEntry is channelOwner's cache entry of a channel.
func (s *Server) channelEntry(ctx context.Context, id int64) (*channelEntry, *discord.Error) {
	if e, ok := s.channels.m.Load(id); ok {
		return e.(*channelEntry), nil
	}
	g, err := s.cfg.Lookup.ChannelGuild(ctx, id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		return nil, discord.ErrUnknownChannel
	case err != nil:
		s.cfg.Logger.Error("looking up channel failed", "error", err)
		return nil, discord.ErrUnavailable
	}
	e := &channelEntry{guild: g, authParams: map[string]string{"channel_id": strconv.FormatInt(id, 10)}}
	s.channels.m.Store(id, e)
	return e, nil
}

func (s *Server) messageHandler(r messageRoute) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, e := readJSONBody(c)
		if e != nil {
			writeError(c, e)
			return
		}
		ctx := c.Request.Context()
		id, err := snowflake.Parse(c.Param("channel_id"))
		if err != nil {
			writeError(c, discord.ErrUnknownChannel)
			return
		}
		channel, e := s.channelEntry(ctx, int64(id))
		if e != nil {
			writeError(c, e)
			return
		}
		guildID := channel.guild
		req := actors.ChannelRequest{ChannelID: int64(id), Op: r.op, ActorID: caller(c).UserID, Body: body}
		// The channel id is the grain's own; the other path ids go along.
		for _, p := range c.Params {
			if p.Key == "channel_id" {
				continue
			}
			if req.Params == nil {
				req.Params = make(map[string]string, len(c.Params))
			}
			req.Params[p.Key] = p.Value
		}
		var resp actors.GuildResponse
		// The second round asks for the viewer list the channel grain
		// lacks (see actors.StatusNeedViewers).
		for round := 0; round < 2; round++ {
			if guildID != 0 {
				// The guild grain authorizes and hands the call on.
				params := channel.authParams
				if round > 0 {
					params = map[string]string{"channel_id": params["channel_id"], "viewers": "all"}
				}
				var authorized bool
				resp, authorized, err = s.cfg.Channels.CallAuthorized(ctx, guildID, params, req)
				if err == nil && !authorized {
					writeError(c, authzRefusal(resp))
					return
				}
			} else {
				// A DM channel's grain authorizes itself.
				if _, e := s.authorizeRaw(c, body, false); e != nil {
					writeError(c, e)
					return
				}
				resp, err = s.cfg.Channels.Call(ctx, req)
			}
			if err != nil {
				s.fail(c, "channel grain", err)
				return
			}
			if resp.Status != actors.StatusNeedViewers {
				break
			}
		}
		if resp.Status == actors.StatusNeedViewers {
			s.fail(c, "channel grain", errors.New("channel grain still lacks its viewers"))
			return
		}
		if resp.Status == http.StatusTooManyRequests {
			var rl struct {
				RetryAfter float64 `json:"retry_after"`
			}
			_ = json.Unmarshal(resp.Body, &rl)
			c.Header("Retry-After", strconv.Itoa(int(rl.RetryAfter+0.999)))
			c.Header("X-RateLimit-Scope", "user")
		}
		writeGrain(c, resp)
	}
}

// canReadHistory checks what every history read needs.
func canReadHistory(t target) *discord.Error {
	if !t.authz.Permissions.Has(permissions.ViewChannel) {
		return discord.ErrMissingAccess
	}
	if !t.authz.Permissions.Has(permissions.ReadMessageHistory) {
		return discord.ErrMissingPerms
	}
	return nil
}

// pageQuery parses Discord's before/after/around/limit.
func pageQuery(c *gin.Context) (persistence.PageQuery, *discord.Error) {
	q := persistence.PageQuery{Limit: 50}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return q, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 100.")
		}
		q.Limit = n
	}
	set := 0
	for name, dst := range map[string]*int64{"before": &q.Before, "after": &q.After, "around": &q.Around} {
		if v := c.Query(name); v != "" {
			id, err := snowflake.Parse(v)
			if err != nil {
				return q, discord.Invalid(name, "NUMBER_TYPE_COERCE", "Value \""+v+"\" is not snowflake.")
			}
			*dst = int64(id)
			set++
		}
	}
	if set > 1 {
		return q, discord.Invalid("around", "BASE_TYPE_INVALID", "Only one of before, after and around may be given.")
	}
	return q, nil
}

// historyPage is the native API's envelope.
type historyPage struct {
	Messages []discord.Message `json:"messages"`
	HasMore  bool              `json:"has_more"`
	Cursor   historyCursor     `json:"cursor"`
}

type historyCursor struct {
	Before *snowflake.ID `json:"before"`
	After  *snowflake.ID `json:"after"`
}

func (s *Server) listMessages(c *gin.Context) {
	q, e := pageQuery(c)
	if e != nil {
		writeError(c, e)
		return
	}
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	msgs, err := s.cfg.Messages.MessagesPage(ctx, t.channelID, q)
	if err != nil {
		s.fail(c, "reading messages", err)
		return
	}
	out, err := s.render(ctx, t.channelID, caller(c).UserID, msgs)
	if err != nil {
		s.fail(c, "rendering messages", err)
		return
	}
	if !strings.HasPrefix(c.FullPath(), "/api/channels") {
		writeJSON(c, http.StatusOK, out)
		return
	}
	page := historyPage{Messages: out}
	if len(msgs) > 0 {
		newest, oldest := snowflake.ID(msgs[0].ID), snowflake.ID(msgs[len(msgs)-1].ID)
		page.Cursor = historyCursor{Before: &oldest, After: &newest}
		older, err := s.cfg.Messages.MessagesPage(ctx, t.channelID, persistence.PageQuery{Before: int64(oldest), Limit: 1})
		if err != nil {
			s.fail(c, "reading messages", err)
			return
		}
		page.HasMore = len(older) > 0
	}
	writeJSON(c, http.StatusOK, page)
}

func (s *Server) getMessage(c *gin.Context) {
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id, err := snowflake.Parse(c.Param("message_id"))
	if err != nil {
		writeError(c, discord.ErrUnknownMessage)
		return
	}
	m, err := s.cfg.Messages.MessageByID(ctx, t.channelID, int64(id))
	if errors.Is(err, persistence.ErrNotFound) {
		writeError(c, discord.ErrUnknownMessage)
		return
	}
	if err != nil {
		s.fail(c, "reading message", err)
		return
	}
	out, err := s.render(ctx, t.channelID, caller(c).UserID, []persistence.Message{m})
	if err != nil {
		s.fail(c, "rendering message", err)
		return
	}
	writeJSON(c, http.StatusOK, out[0])
}

// editVersion is one earlier version of a message.
type editVersion struct {
	Content  string `json:"content"`
	EditedAt string `json:"edited_at"`
}

func (s *Server) messageEdits(c *gin.Context) {
	t, ok := s.readTarget(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id, err := snowflake.Parse(c.Param("message_id"))
	if err != nil {
		writeError(c, discord.ErrUnknownMessage)
		return
	}
	if _, err := s.cfg.Messages.MessageByID(ctx, t.channelID, int64(id)); err != nil {
		if errors.Is(err, persistence.ErrNotFound) {
			writeError(c, discord.ErrUnknownMessage)
			return
		}
		s.fail(c, "reading message", err)
		return
	}
	edits, err := s.cfg.Messages.MessageEdits(ctx, t.channelID, int64(id))
	if err != nil {
		s.fail(c, "reading edits", err)
		return
	}
	out := make([]editVersion, 0, len(edits))
	for _, ed := range edits {
		out = append(out, editVersion{Content: ed.Content, EditedAt: ed.EditedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00")})
	}
	writeJSON(c, http.StatusOK, out)
}

// render hydrates stored messages: authors, mentions, replies, reactions.
func (s *Server) render(ctx context.Context, channelID, viewer int64, msgs []persistence.Message) ([]discord.Message, error) {
	refs := map[int64]persistence.Message{}
	ids := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.ID)
		if m.RefMessageID != 0 {
			if _, ok := refs[m.RefMessageID]; !ok {
				r, err := s.cfg.Messages.MessageByID(ctx, channelID, m.RefMessageID)
				if err == nil {
					refs[r.ID] = r
				} else if !errors.Is(err, persistence.ErrNotFound) {
					return nil, err
				}
			}
		}
	}
	out, err := actors.RenderMessages(ctx, s.cfg.Messages, msgs, refs)
	if err != nil {
		return nil, err
	}
	reactions, err := s.cfg.Messages.ReactionsFor(ctx, channelID, ids, viewer)
	if err != nil {
		return nil, err
	}
	for i := range out {
		for _, r := range reactions[int64(out[i].ID)] {
			out[i].Reactions = append(out[i].Reactions, wireReaction(r))
		}
	}
	return out, nil
}

// wireReaction renders a reaction summary; custom emoji are stored as
// "name:id".
func wireReaction(r persistence.Reaction) discord.Reaction {
	return discord.Reaction{Count: r.Count, CountDetails: map[string]int{"burst": 0, "normal": r.Count}, Me: r.Me,
		Emoji: actors.WireEmoji(r.Emoji), BurstColors: []any{}}
}
