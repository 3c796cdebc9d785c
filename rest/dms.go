package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
	"github.com/gin-gonic/gin"
)

// DMDirectory opens, creates and lists DM channels; an optional ability of
// the ChannelDirectory (*actors.Channels has it). Errors are *discord.Error
// values for the caller, or retryable failures.
type DMDirectory interface {
	OpenDM(ctx context.Context, caller, recipient int64) (discord.DMChannel, error)
	CreateGroupDM(ctx context.Context, caller int64, recipients []int64, name *string) (discord.DMChannel, error)
	DMChannelsOf(ctx context.Context, caller int64) ([]discord.DMChannel, error)
}

// mountDMs registers the DM routes when the channel directory can serve
// them. GET, PATCH and DELETE /channels/{id} of a DM channel come through
// the guild routes (guildHandler hands them to dmChannelRoute).
func (s *Server) mountDMs(g *gin.RouterGroup) {
	dms, ok := s.cfg.Channels.(DMDirectory)
	if !ok {
		return
	}
	g.POST("/users/@me/channels", func(c *gin.Context) { s.createDM(c, dms) })
	g.GET("/users/@me/channels", func(c *gin.Context) { s.listDMs(c, dms) })
	g.PUT("/channels/:channel_id/recipients/:user_id", s.recipientHandler("recipient.add"))
	g.DELETE("/channels/:channel_id/recipients/:user_id", s.recipientHandler("recipient.remove"))
}

// createDMRequest is Discord's Create DM body ({recipient_id}), its Create
// Group DM body ({access_tokens, nicks}) and the user-client form
// ({recipients, name}), which is Accord's native one.
type createDMRequest struct {
	RecipientID  json.RawMessage   `json:"recipient_id"`
	Recipients   []json.RawMessage `json:"recipients"`
	AccessTokens []string          `json:"access_tokens"`
	Nicks        map[string]string `json:"nicks"`
	Name         json.RawMessage   `json:"name"`
}

// createDM is POST /users/@me/channels.
//
//   - {recipient_id}: the 1:1 DM of the pair, created on first use.
//   - {recipients: [one id]}: the same, as Discord's client form does.
//   - {recipients: [ids…]} (none, or two or more) or {access_tokens: […]}: a new group
//     DM owned by the caller. An access token stands for its user (Accord
//     has no OAuth2 gdm.join grant: the user's own access token is the
//     consent). nicks are accepted and ignored (no per-channel nicknames).
//
// Every other user must share a guild with the caller (403 50007); the
// caller themself as recipient_id is 50007 too. An id of no user, or an
// invalid access token, is 400 50033 Invalid Recipient(s); a malformed id
// is 400 50035. More than 10 users in a group DM, caller included, is 400
// 30004.
func (s *Server) createDM(c *gin.Context, dms DMDirectory) {
	var body createDMRequest
	if e := decodeJSON(c, &body, true); e != nil {
		writeError(c, e)
		return
	}
	ctx := c.Request.Context()
	me := caller(c).UserID
	if body.Recipients == nil && body.AccessTokens == nil {
		id, e := snowflakeField("recipient_id", body.RecipientID)
		if e != nil {
			writeError(c, e)
			return
		}
		s.answerDM(c, func() (discord.DMChannel, error) { return dms.OpenDM(ctx, me, id) })
		return
	}
	var ids []int64
	for i, raw := range body.Recipients {
		id, e := snowflakeField("recipients."+strconv.Itoa(i), raw)
		if e != nil {
			writeError(c, e)
			return
		}
		ids = append(ids, id)
	}
	for _, raw := range body.AccessTokens {
		id, ok := s.tokenUser(ctx, raw)
		if !ok {
			writeError(c, discord.ErrInvalidRecipients)
			return
		}
		ids = append(ids, id)
	}
	name, e := groupDMName(body.Name)
	if e != nil {
		writeError(c, e)
		return
	}
	if body.AccessTokens == nil && name == nil && len(ids) == 1 && ids[0] != me {
		s.answerDM(c, func() (discord.DMChannel, error) { return dms.OpenDM(ctx, me, ids[0]) })
		return
	}
	s.answerDM(c, func() (discord.DMChannel, error) { return dms.CreateGroupDM(ctx, me, ids, name) })
}

func (s *Server) answerDM(c *gin.Context, fn func() (discord.DMChannel, error)) {
	dm, err := fn()
	if err != nil {
		s.dmFailure(c, err)
		return
	}
	writeJSON(c, http.StatusOK, dm)
}

func (s *Server) dmFailure(c *gin.Context, err error) {
	var de *discord.Error
	if errors.As(err, &de) {
		writeError(c, de)
		return
	}
	s.fail(c, "DM channels", err)
}

// snowflakeField parses a required id given as a JSON string or number.
func snowflakeField(field string, raw json.RawMessage) (int64, *discord.Error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, discord.Invalid(field, "BASE_TYPE_REQUIRED", "This field is required")
	}
	var id snowflake.ID
	if err := id.UnmarshalJSON(raw); err != nil || id <= 0 {
		return 0, discord.Invalid(field, "NUMBER_TYPE_COERCE", "Value "+string(raw)+" is not snowflake.")
	}
	return int64(id), nil
}

// groupDMName reads an optional group DM name: null or "" for none, at most
// 100 characters.
func groupDMName(raw json.RawMessage) (*string, *discord.Error) {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	var name string
	if json.Unmarshal(raw, &name) != nil {
		return nil, discord.Invalid("name", "BASE_TYPE_STRING", "Must be a string.")
	}
	if utf8.RuneCountInString(name) > 100 {
		return nil, discord.Invalid("name", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	if name == "" {
		return nil, nil
	}
	return &name, nil
}

// tokenUser is the user of a valid access token of an active login.
func (s *Server) tokenUser(ctx context.Context, raw string) (int64, bool) {
	claims, err := s.cfg.Tokens.Verify(token.StripScheme(raw))
	if err != nil {
		return 0, false
	}
	active, ok := s.families.get(claims.SessionID)
	if !ok {
		if active, err = s.cfg.Accounts.FamilyActive(ctx, claims.SessionID, claims.UserID); err != nil {
			return 0, false
		}
		s.families.put(claims.SessionID, active)
	}
	return claims.UserID, active
}

// listDMs is GET /users/@me/channels: the caller's DM and group DM
// channels, most recently active first.
func (s *Server) listDMs(c *gin.Context, dms DMDirectory) {
	out, err := dms.DMChannelsOf(c.Request.Context(), caller(c).UserID)
	if err != nil {
		s.dmFailure(c, err)
		return
	}
	writeJSON(c, http.StatusOK, out)
}

// recipientHandler serves PUT and DELETE /channels/{id}/recipients/{user_id}
// in the DM channel's grain. On a guild channel they are 50024 for those
// who can see the channel (50001 for the others, who learn nothing).
func (s *Server) recipientHandler(op string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		id, err := snowflake.Parse(c.Param("channel_id"))
		if err != nil {
			writeError(c, discord.ErrUnknownChannel)
			return
		}
		guildID, e := s.channelOwner(ctx, int64(id))
		if e != nil {
			writeError(c, e)
			return
		}
		if guildID != 0 {
			if _, e := s.authorizeChannel(c, nil); e != nil {
				writeError(c, e)
				return
			}
			writeError(c, discord.ErrChannelTypeAction)
			return
		}
		s.callDM(c, int64(id), op, nil)
	}
}

// dmChannelRoute serves a /channels/{id} guild route whose channel is a DM:
// GET reads it, PATCH renames a group DM, DELETE closes it (leaves a group
// DM); every other channel route is 50003 on a DM (after the recipient
// check: a non-recipient gets 50001).
func (s *Server) dmChannelRoute(c *gin.Context, op string) {
	var body []byte
	if c.Request.Method != http.MethodGet {
		var e *discord.Error
		if body, e = readJSONBody(c); e != nil {
			writeError(c, e)
			return
		}
	}
	grainOp := "dm.unsupported"
	switch op {
	case "channel.get":
		grainOp = "dm.get"
	case "channel.update":
		grainOp = "dm.update"
	case "channel.delete":
		grainOp = "dm.close"
	}
	id, _ := snowflake.Parse(c.Param("channel_id"))
	s.callDM(c, int64(id), grainOp, body)
}

// callDM runs op in a DM channel's grain, which authorizes the caller
// from the channel's recipients.
func (s *Server) callDM(c *gin.Context, channelID int64, op string, body []byte) {
	req := actors.ChannelRequest{ChannelID: channelID, Op: op, ActorID: caller(c).UserID, Params: map[string]string{}, Body: body}
	for _, p := range c.Params {
		req.Params[p.Key] = p.Value
	}
	resp, err := s.cfg.Channels.Call(c.Request.Context(), req)
	if err != nil {
		s.fail(c, "channel grain", err)
		return
	}
	writeGrain(c, resp)
}
