package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
	"github.com/gin-gonic/gin"
)

// Applications and their bots, as on Discord: an application and its bot
// user share one id; the bot token is shown once, when the application is
// created or its token reset, and is stored as a hash. A bot authenticates
// with "Bot <token>" on REST and in Identify.

// ApplicationStore is what the application endpoints and bot token
// verification need. *persistence.Store implements it.
type ApplicationStore interface {
	CreateApplication(ctx context.Context, na persistence.NewApplication) (persistence.Application, persistence.User, error)
	ApplicationByID(ctx context.Context, id int64) (persistence.Application, error)
	SetApplicationFlags(ctx context.Context, id, flags int64) (persistence.Application, error)
	ResetBotToken(ctx context.Context, id, familyID int64, hash []byte) (oldFamily int64, err error)
	BotTokenFamily(ctx context.Context, botID int64, hash []byte) (int64, error)
	// SessionStarts counts a bot's gateway session starts in the session
	// start window and says when the oldest leaves it.
	SessionStarts(ctx context.Context, userID int64) (used int, resetAfter time.Duration, err error)
}

// Application flags (Discord's), the three that allow privileged intents to
// an unverified bot. Only these may be changed through PATCH.
const (
	FlagGatewayPresenceLimited       int64 = 1 << 13
	FlagGatewayGuildMembersLimited   int64 = 1 << 15
	FlagGatewayMessageContentLimited int64 = 1 << 19

	// settableFlags are the flags PATCH accepts; a new application has them
	// all, so its bot may use every privileged intent.
	settableFlags = FlagGatewayPresenceLimited | FlagGatewayGuildMembersLimited | FlagGatewayMessageContentLimited
)

// Errors of the application API.
var (
	errUnknownApplication = &discord.Error{Status: http.StatusNotFound, Code: 10002, Message: "Unknown Application"}
	errBotsForbidden      = &discord.Error{Status: http.StatusForbidden, Code: 20001, Message: "Bots cannot use this endpoint"}
)

func (s *Server) mountApplications(g *gin.RouterGroup) {
	g.POST("/applications", s.createApplication)
	g.GET("/applications/@me", s.getApplication)
	// Discord's older "current bot application" route, which discordgo's
	// Session.Application("@me") calls.
	g.GET("/oauth2/applications/@me", s.getApplication)
	g.PATCH("/applications/@me", s.patchApplication)
	g.GET("/applications/:application_id", s.getApplication)
	g.PATCH("/applications/:application_id", s.patchApplication)
	g.POST("/applications/:application_id/bot/reset", s.resetBotToken)
	g.POST("/oauth2/authorize", s.authorizeBot)
}

// applicationJSON is Discord's application object; bot is the bot user,
// with its token only in the answers that create one.
type applicationJSON struct {
	ID                  snowflake.ID `json:"id"`
	Name                string       `json:"name"`
	Icon                *string      `json:"icon"`
	Description         string       `json:"description"`
	Summary             string       `json:"summary"`
	BotPublic           bool         `json:"bot_public"`
	BotRequireCodeGrant bool         `json:"bot_require_code_grant"`
	VerifyKey           string       `json:"verify_key"`
	Flags               int64        `json:"flags"`
	Owner               discord.User `json:"owner"`
	Bot                 *botUserJSON `json:"bot,omitempty"`
	RedirectURIs        []string     `json:"redirect_uris"`
	Tags                []string     `json:"tags"`
}

type botUserJSON struct {
	discord.User
	Token string `json:"token,omitempty"`
}

// renderApplication renders app with its owner and bot looked up through
// the user grains.
func (s *Server) renderApplication(ctx context.Context, app persistence.Application) (applicationJSON, error) {
	owner, err := s.cfg.Users.Get(ctx, app.OwnerID)
	if err != nil {
		return applicationJSON{}, err
	}
	bot, err := s.cfg.Users.Get(ctx, app.ID)
	if err != nil {
		return applicationJSON{}, err
	}
	return applicationJSON{ID: snowflake.ID(app.ID), Name: app.Name, Description: app.Description,
		BotPublic: app.BotPublic, Flags: app.Flags, Owner: toUser(owner, false),
		Bot: &botUserJSON{User: toUser(bot, false)}, RedirectURIs: []string{}, Tags: []string{}}, nil
}

func (s *Server) createApplication(c *gin.Context) {
	ctx := c.Request.Context()
	cl := caller(c)
	if s.isBot(c, cl.UserID) {
		return
	}
	var req struct {
		Name *string `json:"name"`
	}
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	fe := discord.FieldErrors{}
	// The bot is named after the application, so the name follows the
	// username rules.
	name := validateUsername(fe, "name", req.Name, true)
	if e := fe.Err(); e != nil {
		writeError(c, e)
		return
	}
	id, err := s.cfg.IDs.Next()
	if err != nil {
		s.fail(c, "issuing application id", err)
		return
	}
	family, err := s.cfg.IDs.Next()
	if err != nil {
		s.fail(c, "issuing token family id", err)
		return
	}
	plain, hash, err := token.NewBotToken(int64(id), time.Now())
	if err != nil {
		s.fail(c, "making bot token", err)
		return
	}
	app, bot, err := s.cfg.Applications.CreateApplication(ctx, persistence.NewApplication{ID: int64(id), OwnerID: cl.UserID,
		Name: name, Flags: settableFlags, TokenFamilyID: int64(family), TokenHash: hash})
	if errors.Is(err, persistence.ErrUsernameTaken) {
		writeError(c, discord.Invalid("name", "USERNAME_TOO_MANY_USERS", "Too many users have this username, please try another."))
		return
	}
	if err != nil {
		s.fail(c, "creating application", err)
		return
	}
	out, err := s.renderApplication(ctx, app)
	if err != nil {
		s.userError(c, err)
		return
	}
	out.Bot = &botUserJSON{User: toUser(bot, false), Token: plain}
	writeJSON(c, http.StatusCreated, out)
}

// isBot answers 403 20001 and reports true when userID is a bot.
func (s *Server) isBot(c *gin.Context, userID int64) bool {
	u, err := s.cfg.Users.Get(c.Request.Context(), userID)
	if err != nil {
		s.userError(c, err)
		return true
	}
	if u.Bot {
		writeError(c, errBotsForbidden)
		return true
	}
	return false
}

// application resolves the application of the request for the caller:
// @me is the caller's own (the caller is a bot), an id is readable by its
// owner and its bot and changeable (owner true) by its owner only. Unknown
// or not the caller's: 10002, as Discord answers.
func (s *Server) application(c *gin.Context, owner bool) (persistence.Application, bool) {
	cl := caller(c)
	var id int64
	me := c.Param("application_id") == ""
	if me {
		id = cl.UserID
	} else {
		v, err := snowflake.Parse(c.Param("application_id"))
		if err != nil {
			writeError(c, errUnknownApplication)
			return persistence.Application{}, false
		}
		id = int64(v)
	}
	app, err := s.cfg.Applications.ApplicationByID(c.Request.Context(), id)
	if errors.Is(err, persistence.ErrNotFound) {
		writeError(c, errUnknownApplication)
		return persistence.Application{}, false
	}
	if err != nil {
		s.fail(c, "reading application", err)
		return persistence.Application{}, false
	}
	switch {
	case me, app.OwnerID == cl.UserID:
	case app.ID == cl.UserID && !owner:
	default:
		if app.ID == cl.UserID {
			writeError(c, discord.ErrMissingAccess)
		} else {
			writeError(c, errUnknownApplication)
		}
		return persistence.Application{}, false
	}
	return app, true
}

// writeApplication answers app, without its bot's token.
func (s *Server) writeApplication(c *gin.Context, app persistence.Application) {
	out, err := s.renderApplication(c.Request.Context(), app)
	if err != nil {
		s.userError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, out)
}

func (s *Server) getApplication(c *gin.Context) {
	app, ok := s.application(c, false)
	if !ok {
		return
	}
	s.writeApplication(c, app)
}

func (s *Server) patchApplication(c *gin.Context) {
	app, ok := s.application(c, true)
	if !ok {
		return
	}
	var req struct {
		Flags json.RawMessage `json:"flags"`
	}
	if e := decodeJSON(c, &req, true); e != nil {
		writeError(c, e)
		return
	}
	if len(req.Flags) > 0 && string(req.Flags) != "null" {
		var flags int64
		if err := json.Unmarshal(req.Flags, &flags); err != nil || flags < 0 {
			writeError(c, discord.Invalid("flags", "NUMBER_TYPE_COERCE", "Must be a non-negative integer."))
			return
		}
		// Only the limited intent flags can be changed; the others stay.
		if (flags^app.Flags)&^settableFlags != 0 {
			writeError(c, discord.Invalid("flags", "APPLICATION_FLAGS_INVALID",
				"Only the GATEWAY_*_LIMITED flags can be changed."))
			return
		}
		var err error
		app, err = s.cfg.Applications.SetApplicationFlags(c.Request.Context(), app.ID, flags)
		if err != nil {
			s.fail(c, "changing application flags", err)
			return
		}
	}
	s.writeApplication(c, app)
}

// resetBotToken issues a new token; the old one stops working everywhere
// (here at once, on other nodes within FamilyCacheTTL).
func (s *Server) resetBotToken(c *gin.Context) {
	app, ok := s.application(c, true)
	if !ok {
		return
	}
	family, err := s.cfg.IDs.Next()
	if err != nil {
		s.fail(c, "issuing token family id", err)
		return
	}
	plain, hash, err := token.NewBotToken(app.ID, time.Now())
	if err != nil {
		s.fail(c, "making bot token", err)
		return
	}
	old, err := s.cfg.Applications.ResetBotToken(c.Request.Context(), app.ID, int64(family), hash)
	if err != nil {
		s.fail(c, "resetting bot token", err)
		return
	}
	s.families.put(old, false)
	writeJSON(c, http.StatusOK, map[string]string{"token": plain})
}
