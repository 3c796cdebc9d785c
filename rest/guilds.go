package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/gin-gonic/gin"
)

// GuildDirectory runs guild operations in their guild grains.
type GuildDirectory interface {
	Call(ctx context.Context, req actors.GuildRequest) (actors.GuildResponse, error)
}

// GuildLookup resolves the guild behind a channel or an invite, and a
// user's guilds. Only routing comes from here; every decision is the grain's.
type GuildLookup interface {
	ChannelGuild(ctx context.Context, channelID int64) (int64, error)
	InviteGuild(ctx context.Context, code string) (int64, error)
	GuildIDsOfUser(ctx context.Context, userID int64) ([]int64, error)
}

// scope says how a route finds its guild.
type scope int

const (
	byGuild   scope = iota // :guild_id in the path
	byChannel              // the guild of :channel_id
	byInvite               // the guild of invite :code
	newGuild               // a fresh id (POST /guilds)
)

// guildRoute maps a Discord route onto a guild grain operation.
type guildRoute struct {
	method, path, op string
	scope            scope
}

// guildRoutes is every route the guild grain serves. The authorization
// matrix test walks this table, so a route added here without a matrix row
// fails the tests.
var guildRoutes = []guildRoute{
	{"POST", "/guilds", "guild.create", newGuild},
	{"GET", "/guilds/:guild_id", "guild.get", byGuild},
	{"PATCH", "/guilds/:guild_id", "guild.update", byGuild},
	{"DELETE", "/guilds/:guild_id", "guild.delete", byGuild},
	{"DELETE", "/users/@me/guilds/:guild_id", "guild.leave", byGuild},

	{"GET", "/guilds/:guild_id/channels", "channels.list", byGuild},
	{"POST", "/guilds/:guild_id/channels", "channels.create", byGuild},
	{"PATCH", "/guilds/:guild_id/channels", "channels.positions", byGuild},
	{"GET", "/channels/:channel_id", "channel.get", byChannel},
	{"PATCH", "/channels/:channel_id", "channel.update", byChannel},
	{"DELETE", "/channels/:channel_id", "channel.delete", byChannel},
	{"PUT", "/channels/:channel_id/permissions/:overwrite_id", "overwrite.put", byChannel},
	{"DELETE", "/channels/:channel_id/permissions/:overwrite_id", "overwrite.delete", byChannel},

	{"GET", "/guilds/:guild_id/roles", "roles.list", byGuild},
	{"POST", "/guilds/:guild_id/roles", "roles.create", byGuild},
	{"PATCH", "/guilds/:guild_id/roles", "roles.positions", byGuild},
	{"PATCH", "/guilds/:guild_id/roles/:role_id", "role.update", byGuild},
	{"DELETE", "/guilds/:guild_id/roles/:role_id", "role.delete", byGuild},

	{"GET", "/guilds/:guild_id/members", "members.list", byGuild},
	{"GET", "/guilds/:guild_id/members/search", "members.search", byGuild},
	{"GET", "/guilds/:guild_id/members/:user_id", "member.get", byGuild},
	{"PATCH", "/guilds/:guild_id/members/:user_id", "member.update", byGuild},
	{"DELETE", "/guilds/:guild_id/members/:user_id", "member.kick", byGuild},
	{"PUT", "/guilds/:guild_id/members/:user_id/roles/:role_id", "member.role_add", byGuild},
	{"DELETE", "/guilds/:guild_id/members/:user_id/roles/:role_id", "member.role_remove", byGuild},

	{"GET", "/guilds/:guild_id/bans", "bans.list", byGuild},
	{"GET", "/guilds/:guild_id/bans/:user_id", "ban.get", byGuild},
	{"PUT", "/guilds/:guild_id/bans/:user_id", "ban.put", byGuild},
	{"DELETE", "/guilds/:guild_id/bans/:user_id", "ban.delete", byGuild},

	{"POST", "/channels/:channel_id/invites", "invites.create", byChannel},
	{"GET", "/channels/:channel_id/invites", "invites.channel_list", byChannel},
	{"GET", "/guilds/:guild_id/invites", "invites.guild_list", byGuild},
	{"GET", "/invites/:code", "invite.get", byInvite},
	{"POST", "/invites/:code", "invite.join", byInvite},
	{"DELETE", "/invites/:code", "invite.delete", byInvite},
}

// mountGuilds registers the guild routes on g, an authenticated group.
// GET /invites/{code} is the exception: Discord answers it without a token,
// so it goes on a group with optional authentication (actor 0 when
// anonymous).
func (s *Server) mountGuilds(g *gin.RouterGroup) {
	open := s.engine.Group(g.BasePath(), s.authenticateOptional)
	g.GET("/users/@me/guilds", s.myGuilds)
	for _, r := range guildRoutes {
		if r.op == "invite.get" {
			open.Handle(r.method, r.path, s.guildHandler(r))
			continue
		}
		g.Handle(r.method, r.path, s.guildHandler(r))
	}
}

// authenticateOptional lets a request without an Authorization header
// through as anonymous; a presented token must be valid.
func (s *Server) authenticateOptional(c *gin.Context) {
	if c.GetHeader("Authorization") == "" {
		c.Next()
		return
	}
	s.authenticate(c)
}

// channelGuilds caches channel → guild: a channel never changes guild, and a
// deleted channel is answered by its grain as unknown.
type channelGuilds struct {
	m sync.Map // channel id → *channelEntry
}

// channelEntry is a cached channel.
type channelEntry struct {
	guild int64 // 0 for a DM channel
	// authParams are the parameters of the guild grain's channel.authorize
	// for this channel, made once: shared by concurrent requests, never
	// modified.
	authParams map[string]string
}

func (s *Server) guildHandler(r guildRoute) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		req := actors.GuildRequest{Op: r.op, ActorID: caller(c).UserID, Params: map[string]string{}}
		for _, p := range c.Params {
			req.Params[p.Key] = p.Value
		}
		for k, v := range c.Request.URL.Query() {
			if _, path := req.Params[k]; !path && len(v) > 0 {
				req.Params[k] = v[0]
			}
		}
		// Discord takes an action's reason (a ban's, here) from this header,
		// URL-encoded.
		if h := c.GetHeader("X-Audit-Log-Reason"); h != "" {
			if v, err := url.PathUnescape(h); err == nil {
				h = v
			}
			req.Params["audit_log_reason"] = h
		}
		if r.op == "member.update" && c.Param("user_id") == "@me" {
			req.Op = "member.update_me"
		}
		switch r.scope {
		case byGuild:
			id, err := snowflake.Parse(c.Param("guild_id"))
			if err != nil {
				writeError(c, discord.ErrUnknownGuild)
				return
			}
			req.GuildID = int64(id)
		case byChannel:
			id, e := s.channelGuild(ctx, c.Param("channel_id"))
			if e != nil {
				writeError(c, e)
				return
			}
			if id == 0 {
				// A DM channel: its channel grain serves it.
				s.dmChannelRoute(c, r.op)
				return
			}
			req.GuildID = id
		case byInvite:
			id, err := s.cfg.Lookup.InviteGuild(ctx, c.Param("code"))
			if errors.Is(err, persistence.ErrNotFound) {
				writeError(c, discord.ErrUnknownInvite)
				return
			}
			if err != nil {
				s.fail(c, "looking up invite", err)
				return
			}
			req.GuildID = id
		case newGuild:
			id, err := s.cfg.IDs.Next()
			if err != nil {
				s.fail(c, "issuing guild id", err)
				return
			}
			req.GuildID = int64(id)
		}
		if c.Request.Method != http.MethodGet {
			body, e := readJSONBody(c)
			if e != nil {
				writeError(c, e)
				return
			}
			req.Body = body
		}
		resp, err := s.cfg.Guilds.Call(ctx, req)
		if err != nil {
			s.fail(c, "guild grain", err)
			return
		}
		// A channel or invite of a deleted guild is itself unknown.
		if resp.Status == http.StatusNotFound && bytes.Contains(resp.Body, []byte(`"code":10004`)) {
			switch r.scope {
			case byChannel:
				writeError(c, discord.ErrUnknownChannel)
				return
			case byInvite:
				writeError(c, discord.ErrUnknownInvite)
				return
			}
		}
		writeGrain(c, resp)
	}
}

func writeGrain(c *gin.Context, resp actors.GuildResponse) {
	if resp.Status == http.StatusNoContent || len(resp.Body) == 0 {
		c.Status(resp.Status)
		return
	}
	if resp.Status == http.StatusServiceUnavailable {
		c.Header("Retry-After", "1")
	}
	c.Data(resp.Status, "application/json", resp.Body)
}

// channelGuild is the guild of channel raw, 0 for a DM channel.
func (s *Server) channelGuild(ctx context.Context, raw string) (int64, *discord.Error) {
	id, err := snowflake.Parse(raw)
	if err != nil {
		return 0, discord.ErrUnknownChannel
	}
	return s.channelOwner(ctx, int64(id))
}

// myGuilds is GET /users/@me/guilds: the caller's guilds, each answered by
// its grain, with Discord's before/after/limit paging by guild id.
func (s *Server) myGuilds(c *gin.Context) {
	ctx := c.Request.Context()
	cl := caller(c)
	limit := 200
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			writeError(c, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 1 and 200."))
			return
		}
		limit = n
	}
	before, _ := snowflake.Parse(c.Query("before"))
	after, _ := snowflake.Parse(c.Query("after"))
	ids, err := s.cfg.Lookup.GuildIDsOfUser(ctx, cl.UserID)
	if err != nil {
		s.fail(c, "listing guilds", err)
		return
	}
	picked := ids[:0]
	for _, id := range ids {
		if (before == 0 || id < int64(before)) && id > int64(after) {
			picked = append(picked, id)
		}
	}
	if before != 0 && after == 0 && len(picked) > limit {
		picked = picked[len(picked)-limit:]
	} else if len(picked) > limit {
		picked = picked[:limit]
	}
	params := map[string]string{"with_counts": c.Query("with_counts")}
	results := make([]json.RawMessage, len(picked))
	var failed error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, id := range picked {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, err := s.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: id, Op: "guild.partial", ActorID: cl.UserID, Params: params})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				failed = err
			case resp.Status == http.StatusOK:
				results[i] = resp.Body
			}
			// Any other answer: the user left the guild meanwhile.
		})
	}
	wg.Wait()
	if failed != nil {
		s.fail(c, "guild grain", failed)
		return
	}
	out := make([]json.RawMessage, 0, len(results))
	for _, r := range results {
		if r != nil {
			out = append(out, r)
		}
	}
	writeJSON(c, http.StatusOK, out)
}
