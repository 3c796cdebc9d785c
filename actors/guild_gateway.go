package actors

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

// Operations the gateway needs from a guild grain: the GUILD_CREATE a
// session receives after READY, the member ids presences fan out to, and the
// members a Request Guild Members (op 8) asks for. Each answers only a
// member of the guild (403 Missing Access otherwise).
func init() {
	registerGuildOps(map[string]guildOp{
		"gateway.guild_create": {run: gatewayGuildCreate},
		"gateway.member_ids":   {run: gatewayMemberIDs},
		"gateway.members":      {run: gatewayMembers},
	})
}

// Discord's bounds on Identify's large_threshold, and its default.
const (
	LargeThresholdMin     = 50
	LargeThresholdMax     = 250
	largeThresholdDefault = LargeThresholdMin
)

// GatewayGuild is the payload of GUILD_CREATE for one member: the guild, the
// channels the member can view, roles, members (all of them, or up to the
// online members and the member itself in a large guild), the presences of
// the listed members who are online anywhere in the cluster, and the
// member's join time.
type GatewayGuild struct {
	discord.Guild
	JoinedAt             time.Time         `json:"joined_at"`
	Large                bool              `json:"large"`
	Unavailable          bool              `json:"unavailable"`
	MemberCount          int               `json:"member_count"`
	Channels             []discord.Channel `json:"channels"`
	Members              []discord.Member  `json:"members"`
	VoiceStates          []any             `json:"voice_states"`
	Threads              []any             `json:"threads"`
	StageInstances       []any             `json:"stage_instances"`
	GuildScheduledEvents []any             `json:"guild_scheduled_events"`
	SoundboardSounds     []any             `json:"soundboard_sounds"`
	Presences            []json.RawMessage `json:"presences"`
}

// gatewayGuild renders GUILD_CREATE for member userID, who must be a member.
// presence tells who is online (System.Presence).
func (st *guildState) gatewayGuild(userID int64, threshold int, now time.Time,
	presence func(int64) (UserPresence, bool)) GatewayGuild {
	if threshold < LargeThresholdMin || threshold > LargeThresholdMax {
		threshold = largeThresholdDefault
	}
	me := st.members[userID]
	out := GatewayGuild{Guild: st.wireGuild(), JoinedAt: me.JoinedAt, MemberCount: len(st.members),
		Channels: []discord.Channel{}, VoiceStates: []any{}, Threads: []any{}, StageInstances: []any{},
		GuildScheduledEvents: []any{}, SoundboardSounds: []any{}, Presences: []json.RawMessage{}}
	out.Large = out.MemberCount > threshold
	pm := permMember(me)
	idx := st.perms()
	for _, ch := range st.sortedChannels() {
		if idx.Channel(&pm, permOverwrites(ch), now).Has(permissions.ViewChannel) {
			out.Channels = append(out.Channels, wireChannel(ch))
		}
	}
	ids := st.memberIDs()
	out.Members = make([]discord.Member, 0, min(len(ids), threshold+1))
	if out.Large {
		// As Discord: a large guild's online members and the member
		// itself; the rest come through Request Guild Members.
		out.Members = append(out.Members, wireMember(me))
	}
	for _, id := range ids {
		p, online := presence(id)
		if online {
			out.Presences = append(out.Presences, PresenceJSON(id, 0, p.Status, p.Activities))
		}
		if (!out.Large || online) && !(out.Large && id == userID) {
			out.Members = append(out.Members, wireMember(st.members[id]))
		}
	}
	return out
}

// gatewayGuildCreate answers GUILD_CREATE for the actor. Param:
// large_threshold (50–250, default 50).
func gatewayGuildCreate(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	threshold, _ := strconv.Atoi(c.params["large_threshold"])
	return reply{status: http.StatusOK, body: c.st.gatewayGuild(c.actor, threshold, c.now, c.g.sys.Presence)}, nil
}

func snowflakes(ids []int64) []snowflake.ID {
	out := make([]snowflake.ID, len(ids))
	for i, id := range ids {
		out[i] = snowflake.ID(id)
	}
	return out
}

// MemberIDsReply is the answer of gateway.member_ids.
type MemberIDsReply struct {
	MemberIDs []snowflake.ID `json:"member_ids"`
}

// gatewayMemberIDs lists every member's id, for presence updates.
func gatewayMemberIDs(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	return reply{status: http.StatusOK, body: MemberIDsReply{MemberIDs: snowflakes(c.st.memberIDs())}}, nil
}

// Discord's bounds on Request Guild Members.
const (
	maxMembersQueryLimit = 100
	maxMembersUserIDs    = 100
)

// MembersReply is the answer of gateway.members: the members found, by user
// id, and the requested user ids that are no members.
type MembersReply struct {
	Members  []discord.Member `json:"members"`
	NotFound []snowflake.ID   `json:"not_found"`
}

// gatewayMembers answers Request Guild Members. Params: user_ids (comma
// separated, at most 100) or query (a case-insensitive prefix of username,
// global name or nickname; "" with limit 0 is every member) and limit
// (0–100; 0 with a query means 100).
func gatewayMembers(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	out := MembersReply{Members: []discord.Member{}, NotFound: []snowflake.ID{}}
	limit, _ := strconv.Atoi(c.params["limit"])
	if raw, ok := c.params["user_ids"]; ok {
		for i, s := range strings.Split(raw, ",") {
			if i == maxMembersUserIDs {
				break
			}
			id, err := snowflake.Parse(s)
			if err != nil {
				continue
			}
			if m := c.st.members[int64(id)]; m != nil {
				out.Members = append(out.Members, wireMember(m))
			} else {
				out.NotFound = append(out.NotFound, id)
			}
		}
		return reply{status: http.StatusOK, body: out}, nil
	}
	query := strings.ToLower(c.params["query"])
	all := query == "" && limit == 0
	if limit <= 0 || limit > maxMembersQueryLimit {
		limit = maxMembersQueryLimit
	}
	match := func(s *string) bool { return s != nil && strings.HasPrefix(strings.ToLower(*s), query) }
	for _, id := range c.st.memberIDs() {
		if !all && len(out.Members) == limit {
			break
		}
		m := c.st.members[id]
		if all || match(&m.User.Username) || match(m.User.GlobalName) || match(m.Nick) {
			out.Members = append(out.Members, wireMember(m))
		}
	}
	return reply{status: http.StatusOK, body: out}, nil
}
