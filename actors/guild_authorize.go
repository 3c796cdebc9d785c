package actors

import (
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

// ChannelAuthz is the guild grain's answer about one member in one channel:
// everything a channel grain or a history read needs to decide and to
// render, computed by the one permission function over the guild's current
// state. It travels encoded as a guildpb.Authz (see encodeAuthz and
// DecodeAuthz).
type ChannelAuthz struct {
	GuildID          snowflake.ID           `json:"guild_id"`
	ChannelID        snowflake.ID           `json:"channel_id"`
	ChannelType      int                    `json:"channel_type"`
	RateLimitPerUser int                    `json:"rate_limit_per_user"`
	Permissions      permissions.Permission `json:"permissions"`
	// Author is the actor as a user; Member is the actor's member object
	// (without user), as MESSAGE_CREATE carries it.
	Author discord.User    `json:"author"`
	Member *discord.Member `json:"member,omitempty"`
	// Viewers are the members who can view the channel: the recipients of
	// its events.
	Viewers []int64 `json:"viewers"`
	// The mentions the body's content makes, after permissions and
	// allowed_mentions.
	Mentions        []discord.User `json:"mentions"`
	MentionRoles    []snowflake.ID `json:"mention_roles"`
	MentionEveryone bool           `json:"mention_everyone"`
	// AllowRepliedUser says whether a reply may mention the replied-to author.
	AllowRepliedUser bool `json:"allow_replied_user"`
}

func init() {
	registerGuildOps(map[string]guildOp{
		// Internal: asked by the message path, not a REST route.
		"channel.authorize": {run: authorizeChannel, pure: true},
	})
}

// authorizeBody is the part of a message body that mentions need.
type authorizeBody struct {
	Content         *string                  `json:"content"`
	AllowedMentions *discord.AllowedMentions `json:"allowed_mentions"`
}

// mentionFree reports whether body can mention no one: then the
// authorization does not depend on it.
func (b *authorizeBody) mentionFree() bool {
	return (b.Content == nil || !strings.Contains(*b.Content, "@")) &&
		(b.AllowedMentions == nil || b.AllowedMentions.RepliedUser)
}

// plainBody reports, without decoding it, whether a JSON body certainly
// mentions no one and sets no allowed_mentions: it has no '@' and no escape
// (which could spell one), and nothing that could be the allowed_mentions key
// (encoding/json matches keys case-insensitively, with Unicode folding,
// hence no non-ASCII byte either). Most messages are such bodies; the rest
// are decoded. A body of the wrong shape is refused by the channel grain,
// which decodes it anyway.
func plainBody(b []byte) bool {
	const key = "allowed_mentions"
	for i, ch := range b {
		switch {
		case ch == '@' || ch == '\\' || ch >= utf8.RuneSelf:
			return false
		case ch|0x20 == 'a' && i+len(key) <= len(b) && strings.EqualFold(string(b[i:i+len(key)]), key):
			return false
		}
	}
	return true
}

func authorizeChannel(c *gcall) (reply, *discord.Error) {
	id, _ := c.id("channel_id")
	// The viewers go along once per channel and state version; channel
	// grains keep the last list (see StatusNeedViewers).
	include := c.params["viewers"] == "all" || c.st.viewersSent[id] != c.st.version
	key := authzKey{actor: c.actor, channel: id, viewers: include}
	if b, ok := c.st.authzCache[key]; ok {
		// Computed from this very state: the member could view the
		// channel.
		free := plainBody(c.body)
		if !free {
			var body authorizeBody
			if e := c.decode(&body); e != nil {
				return reply{}, e
			}
			free = body.mentionFree()
		}
		if free {
			if include {
				c.st.viewersSentAt(id)
			}
			return reply{status: http.StatusOK, body: rawBody(b)}, nil
		}
	}
	m := c.st.members[c.actor]
	if m == nil {
		return reply{}, discord.ErrMissingAccess
	}
	ch, e := c.st.viewChannel(c.actor, id, c.now)
	if e != nil {
		return reply{}, e
	}
	var body authorizeBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	perms := c.st.channelPerms(c.actor, ch, c.now)
	wm := wireMember(m)
	wm.User = nil
	a := ChannelAuthz{
		GuildID: snowflake.ID(c.g.id), ChannelID: snowflake.ID(ch.ID), ChannelType: ch.Type,
		RateLimitPerUser: ch.RateLimitPerUser, Permissions: perms,
		Author: wireMemberUser(m.User), Member: &wm,
		Mentions: []discord.User{}, MentionRoles: []snowflake.ID{},
	}
	if body.Content != nil {
		c.st.resolveMentions(&a, *body.Content, body.AllowedMentions)
	} else {
		a.AllowRepliedUser = body.AllowedMentions == nil || body.AllowedMentions.RepliedUser
	}
	if include {
		a.Viewers = c.st.cachedViewers(ch, c.now)
		c.st.viewersSentAt(ch.ID)
	}
	b, err := encodeAuthz(&a, c.st.version, include)
	if err != nil {
		return reply{}, discord.ErrInternal
	}
	// Without mentions and without a timeout (which makes permissions
	// depend on the time) the answer holds until the state changes.
	if body.mentionFree() && m.CommunicationDisabledUntil == nil {
		c.st.cacheAuthz(key, b)
	}
	return reply{status: http.StatusOK, body: rawBody(b)}, nil
}

var (
	userMention = regexp.MustCompile(`<@!?([0-9]{1,20})>`)
	roleMention = regexp.MustCompile(`<@&([0-9]{1,20})>`)
)

// resolveMentions fills a's mentions from content as Discord does: users
// who are members, roles that are mentionable (or any role for a member with
// MENTION_EVERYONE), @everyone/@here only with MENTION_EVERYONE, each kind
// only as allowed_mentions permits.
func (st *guildState) resolveMentions(a *ChannelAuthz, content string, allowed *discord.AllowedMentions) {
	parse := map[string]bool{"users": true, "roles": true, "everyone": true}
	users, roles := map[int64]bool{}, map[int64]bool{}
	a.AllowRepliedUser = true
	if allowed != nil {
		parse = map[string]bool{}
		for _, p := range allowed.Parse {
			parse[p] = true
		}
		for _, u := range allowed.Users {
			users[int64(u)] = true
		}
		for _, r := range allowed.Roles {
			roles[int64(r)] = true
		}
		a.AllowRepliedUser = allowed.RepliedUser
	}
	canEveryone := a.Permissions.Has(permissions.MentionEveryone)
	seen := map[int64]bool{}
	for _, match := range userMention.FindAllStringSubmatch(content, -1) {
		id, err := snowflake.Parse(match[1])
		uid := int64(id)
		if err != nil || seen[uid] || !(parse["users"] || users[uid]) {
			continue
		}
		if m := st.members[uid]; m != nil {
			seen[uid] = true
			a.Mentions = append(a.Mentions, wireMemberUser(m.User))
		}
	}
	seenRole := map[int64]bool{}
	for _, match := range roleMention.FindAllStringSubmatch(content, -1) {
		id, err := snowflake.Parse(match[1])
		rid := int64(id)
		r := st.roles[rid]
		if err != nil || r == nil || rid == st.guild.ID || seenRole[rid] || !(parse["roles"] || roles[rid]) {
			continue
		}
		if r.Mentionable || canEveryone {
			seenRole[rid] = true
			a.MentionRoles = append(a.MentionRoles, snowflake.ID(rid))
		}
	}
	if parse["everyone"] && canEveryone && (strings.Contains(content, "@everyone") || strings.Contains(content, "@here")) {
		a.MentionEveryone = true
	}
}
