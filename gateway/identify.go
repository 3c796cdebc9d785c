package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
)

// identifyData is Identify's "d". Unknown fields (compress, the legacy
// $-prefixed properties) are ignored.
type identifyData struct {
	Token          *string         `json:"token"`
	Properties     json.RawMessage `json:"properties"`
	LargeThreshold *int            `json:"large_threshold"`
	Shard          []int64         `json:"shard"`
	Presence       *presenceData   `json:"presence"`
	Intents        *int64          `json:"intents"`
}

// presenceData is a presence as Identify and op 3 carry it. discordgo sends
// an empty status and a zero "game": both mean online without activities.
type presenceData struct {
	Since      *int64          `json:"since"`
	Activities json.RawMessage `json:"activities"`
	Status     string          `json:"status"`
	AFK        bool            `json:"afk"`
}

// state turns a presence command into a session's presence; ok is false for
// an unknown status.
func (pd *presenceData) state(now time.Time) (presenceState, bool) {
	st := presenceState{status: pd.Status, afk: pd.AFK, at: now, activities: emptyActivities}
	if st.status == "" {
		st.status = statusOnline
	}
	if st.status == statusOffline {
		st.status = statusInvisible
	}
	if !validStatus(st.status) {
		return presenceState{}, false
	}
	if pd.Since != nil {
		st.since = *pd.Since
	}
	if a := bytes.TrimSpace(pd.Activities); len(a) > 0 && a[0] == '[' {
		// Re-encode to drop whitespace and make sure it is an array.
		var list []json.RawMessage
		if json.Unmarshal(a, &list) == nil {
			if b, err := json.Marshal(list); err == nil {
				st.activities = b
			}
		}
	}
	return st, true
}

// authenticate verifies a gateway token: 4004 when it is not valid or its
// login was revoked.
func (c *conn) authenticate(ctx context.Context, raw *string) (token.Claims, error) {
	if raw == nil {
		return token.Claims{}, ErrAuthenticationFailed
	}
	tok := token.StripScheme(*raw)
	if tok == "" {
		return token.Claims{}, ErrAuthenticationFailed
	}
	var claims token.Claims
	var err error
	if botID, hash, ok := token.ParseBot(tok); ok {
		claims, err = c.srv.verifyBot(ctx, botID, hash)
	} else {
		claims, err = c.srv.cfg.Tokens.Verify(tok)
	}
	if errors.Is(err, token.ErrInvalidToken) {
		return token.Claims{}, ErrAuthenticationFailed
	}
	if err != nil {
		return token.Claims{}, err
	}
	active, err := c.srv.cfg.Store.FamilyActive(ctx, claims.SessionID, claims.UserID)
	if err != nil {
		return token.Claims{}, err
	}
	if !active {
		return token.Claims{}, ErrAuthenticationFailed
	}
	return claims, nil
}

// identify starts a session: READY, one GUILD_CREATE per guild, then
// whatever happened meanwhile.
func (c *conn) identify(d json.RawMessage) error {
	var id identifyData
	if err := decodeData(d, &id); err != nil {
		return err
	}
	shardID, shardCount := int64(0), int64(1)
	if id.Shard != nil {
		if len(id.Shard) != 2 || id.Shard[1] < 1 || id.Shard[0] < 0 || id.Shard[0] >= id.Shard[1] {
			return ErrInvalidShard
		}
		shardID, shardCount = id.Shard[0], id.Shard[1]
	}
	if id.Intents != nil && (*id.Intents < 0 || uint64(*id.Intents)&^IntentsAll != 0) {
		return ErrInvalidIntents
	}
	now := time.Now()
	presence := presenceState{status: statusOnline, activities: emptyActivities, at: now}
	if id.Presence != nil {
		if st, ok := id.Presence.state(now); ok {
			presence = st
		}
	}
	threshold := actors.LargeThresholdMin
	if id.LargeThreshold != nil {
		threshold = min(max(*id.LargeThreshold, actors.LargeThresholdMin), actors.LargeThresholdMax)
	}

	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	claims, err := c.authenticate(ctx, id.Token)
	if err != nil {
		return err
	}
	user, err := c.srv.cfg.Users.Get(ctx, claims.UserID)
	if errors.Is(err, actors.ErrUnknownUser) {
		return ErrAuthenticationFailed
	}
	if err != nil {
		return err
	}
	intents := IntentsAll
	var appFlags int64
	switch {
	case user.Bot && id.Intents == nil:
		return ErrInvalidIntents
	case user.Bot:
		intents = uint64(*id.Intents)
		if appFlags, err = c.srv.applicationOf(ctx, user.ID); err != nil {
			return err
		}
		if intents&IntentsPrivileged&^privilegedIntents(appFlags) != 0 {
			return ErrDisallowedIntents
		}
		if err := c.srv.startBotSession(ctx, user.ID); err != nil {
			return err
		}
	case id.Intents != nil:
		intents = uint64(*id.Intents)
	}

	ss := &session{id: newSessionID(c.srv.sessionTag()), userID: user.ID, bot: user.Bot, intents: intents,
		gate: user.Bot && intents&IntentMessageContent == 0, shardID: shardID, shardCount: shardCount,
		largeThreshold: threshold, conn: c, loading: true, presence: presence}
	ss.replay.max = c.srv.cfg.ReplayLimit
	// From here on events for the user wait in ss.pending.
	c.srv.addSession(ctx, ss)
	c.sess = ss

	guildIDs, err := c.srv.cfg.Store.GuildIDsOfUser(ctx, user.ID)
	if err != nil {
		c.sess = nil
		c.srv.removeSession(ss)
		return err
	}
	if shardCount > 1 {
		guildIDs = slices.DeleteFunc(guildIDs, func(g int64) bool { return (g>>22)%shardCount != shardID })
	}
	privateChannels := []discord.DMChannel{}
	if c.srv.cfg.DMs != nil && shardID == 0 {
		if dms, err := c.srv.cfg.DMs.DMChannelsOf(ctx, user.ID); err != nil {
			c.srv.log.Warn("identify: listing DM channels failed", slog.Int64("user", user.ID), slog.Any("error", err))
		} else if dms != nil {
			privateChannels = dms
		}
	}
	// The user is online before the GUILD_CREATEs list presences.
	c.srv.presence.changed(user.ID)
	guilds := c.srv.loadGuilds(ctx, user.ID, guildIDs, threshold)

	ready := readyData{V: c.v, User: selfUser(user), UserSettings: struct{}{}, Guilds: []unavailableGuild{},
		SessionID: ss.id, ResumeGatewayURL: c.url, SessionType: "normal",
		Application:     readyApplication{ID: snowflake.ID(user.ID), Flags: appFlags},
		PrivateChannels: privateChannels, Relationships: []any{}, GuildJoinRequests: []any{}, Presences: []any{},
		GeoOrderedRTCRegions: []string{}, Trace: []string{"accord-gateway"}}
	if id.Shard != nil {
		ready.Shard = []int64{shardID, shardCount}
	}
	for _, g := range guilds {
		if !g.gone {
			ready.Guilds = append(ready.Guilds, unavailableGuild{ID: snowflake.ID(g.id), Unavailable: true})
		}
	}
	readyJSON, err := json.Marshal(ready)
	if err != nil {
		c.sess = nil
		c.srv.removeSession(ss)
		return err
	}

	ss.mu.Lock()
	ss.dispatchUnkeptLocked(dispatchHead("READY", readyJSON))
	if intents&IntentGuilds != 0 {
		for _, g := range guilds {
			if g.payload != nil {
				ss.dispatchUnkeptLocked(dispatchHead("GUILD_CREATE", g.payload))
			}
		}
	}
	ss.flushLocked(nil)
	ss.mu.Unlock()
	return nil
}

// loadedGuild is one guild of a session being identified.
type loadedGuild struct {
	id      int64
	payload []byte // GUILD_CREATE's "d"; nil when unavailable
	gone    bool   // the user is no member any more: not listed in READY
}

// identifyParallelism bounds the guild grain calls one Identify makes at
// once.
const identifyParallelism = 8

// loadGuilds fetches the GUILD_CREATE of each guild, in parallel, and fills
// in the presences of its members who are online here.
func (s *Server) loadGuilds(ctx context.Context, userID int64, ids []int64, threshold int) []loadedGuild {
	out := make([]loadedGuild, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, identifyParallelism)
	for i, gid := range ids {
		out[i].id = gid
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i] = s.loadGuild(ctx, userID, gid, threshold)
		}()
	}
	wg.Wait()
	return out
}

func (s *Server) loadGuild(ctx context.Context, userID, gid int64, threshold int) loadedGuild {
	lg := loadedGuild{id: gid}
	res, err := s.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: gid, Op: "gateway.guild_create", ActorID: userID,
		Params: map[string]string{"large_threshold": strconv.Itoa(threshold)}})
	switch {
	case err != nil:
		s.log.Warn("identify: loading guild failed", slog.Int64("guild", gid), slog.Any("error", err))
		return lg
	case res.Status == http.StatusForbidden || res.Status == http.StatusNotFound:
		lg.gone = true
		return lg
	case res.Status != http.StatusOK:
		s.log.Warn("identify: loading guild failed", slog.Int64("guild", gid), slog.Int("status", res.Status))
		return lg
	}
	if !json.Valid(res.Body) {
		s.log.Warn("identify: bad guild payload", slog.Int64("guild", gid))
		return lg
	}
	lg.payload = res.Body
	return lg
}

// readyData is READY's "d".
type readyData struct {
	V                    int                 `json:"v"`
	User                 discord.User        `json:"user"`
	UserSettings         struct{}            `json:"user_settings"`
	Guilds               []unavailableGuild  `json:"guilds"`
	SessionID            string              `json:"session_id"`
	ResumeGatewayURL     string              `json:"resume_gateway_url"`
	SessionType          string              `json:"session_type"`
	Application          readyApplication    `json:"application"`
	PrivateChannels      []discord.DMChannel `json:"private_channels"`
	Relationships        []any               `json:"relationships"`
	GuildJoinRequests    []any               `json:"guild_join_requests"`
	Presences            []any               `json:"presences"`
	GeoOrderedRTCRegions []string            `json:"geo_ordered_rtc_regions"`
	Shard                []int64             `json:"shard,omitempty"`
	Trace                []string            `json:"_trace"`
}

type unavailableGuild struct {
	ID          snowflake.ID `json:"id"`
	Unavailable bool         `json:"unavailable"`
}

// readyApplication is READY's application: a bot's application (which
// shares the bot's id) with its flags; for a person, their own id and no
// flags.
type readyApplication struct {
	ID    snowflake.ID `json:"id"`
	Flags int64        `json:"flags"`
}

// selfUser is the user object a user sees of itself: with email and
// verified for people, as Discord's READY has them.
func selfUser(u persistence.User) discord.User {
	out := discord.User{ID: snowflake.ID(u.ID), Username: u.Username, GlobalName: u.GlobalName, Avatar: u.Avatar,
		Bot: u.Bot, Discriminator: discriminator(u.Discriminator)}
	mfa := false
	out.MFAEnabled = &mfa
	verified := u.Verified || u.Bot
	out.Verified = &verified
	if !u.Bot {
		email := u.Email
		out.Email = &email
	}
	return out
}

func discriminator(d int16) string {
	s := strconv.Itoa(int(d))
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}
