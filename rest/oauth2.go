package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/gin-gonic/gin"
)

// authorizeRequest is the body Discord's authorization screen posts to
// /oauth2/authorize for the bot scope; permissions may also come in the
// query, as in the invite URL.
type authorizeRequest struct {
	GuildID     json.RawMessage         `json:"guild_id"`
	Authorize   *bool                   `json:"authorize"`
	Permissions *permissions.Permission `json:"permissions"`
}

// authorizeBot is POST /oauth2/authorize?client_id=…&scope=bot&permissions=…
// with {guild_id, authorize: true}: a member with MANAGE_GUILD adds the
// application's bot to the guild, which the guild grain decides (see
// actors/guild_bots.go). It answers 200 {location}; a bot already in the
// guild is no error. Only the bot scope is served.
func (s *Server) authorizeBot(c *gin.Context) {
	ctx := c.Request.Context()
	cl := caller(c)
	if s.isBot(c, cl.UserID) {
		return
	}
	var req authorizeRequest
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	fe := discord.FieldErrors{}
	clientID, err := snowflake.Parse(c.Query("client_id"))
	if err != nil || clientID == 0 {
		fe.Add("client_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.")
	}
	scopes := strings.Fields(c.Query("scope"))
	if !slices.Contains(scopes, "bot") {
		fe.Add("scope", "OAUTH2_SCOPE_INVALID", "Only the bot scope is supported.")
	}
	perms := permissions.Permission(0)
	if raw := c.Query("permissions"); raw != "" {
		p, err := permissions.Parse(raw)
		if err != nil {
			fe.Add("permissions", "PERMISSIONS_INVALID", "Must be a permission bit set, as a decimal string.")
		}
		perms = p
	}
	if req.Permissions != nil {
		perms = *req.Permissions
	}
	var guildID snowflake.ID
	if len(req.GuildID) == 0 || json.Unmarshal(req.GuildID, &guildID) != nil || guildID == 0 {
		fe.Add("guild_id", "BASE_TYPE_REQUIRED", "A guild is required for the bot scope.")
	}
	if req.Authorize == nil {
		fe.Add("authorize", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if e := fe.Err(); e != nil {
		writeError(c, e)
		return
	}
	app, err := s.cfg.Applications.ApplicationByID(ctx, int64(clientID))
	if errors.Is(err, persistence.ErrNotFound) {
		writeError(c, errUnknownApplication)
		return
	}
	if err != nil {
		s.fail(c, "reading application", err)
		return
	}
	base := s.publicBase(c)
	if !*req.Authorize {
		// Declined: nothing happens, and the client is sent back with
		// Discord's error.
		writeJSON(c, http.StatusOK, map[string]string{"location": base + "/oauth2/authorized?error=access_denied"})
		return
	}
	if !app.BotPublic && app.OwnerID != cl.UserID {
		writeError(c, discord.Invalid("client_id", "BOT_NOT_PUBLIC", "Only the owner can add this bot."))
		return
	}
	resp, err := s.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: int64(guildID), Op: "bot.add", ActorID: cl.UserID,
		Params: map[string]string{"bot_id": snowflake.ID(app.ID).String(), "permissions": perms.String()}})
	if err != nil {
		s.fail(c, "guild grain", err)
		return
	}
	if resp.Status != http.StatusNoContent && resp.Status != http.StatusOK {
		writeGrain(c, resp)
		return
	}
	writeJSON(c, http.StatusOK, map[string]string{"location": base + "/oauth2/authorized"})
}

// publicBase is the API's base URL as the client reached it.
func (s *Server) publicBase(c *gin.Context) string {
	r := c.Request
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
