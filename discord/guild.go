package discord

import (
	"time"

	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

// Channel types Accord supports.
const (
	ChannelText     = 0
	ChannelDM       = 1
	ChannelVoice    = 2
	ChannelGroupDM  = 3
	ChannelCategory = 4
)

// Guild is Discord's guild object (the fields Accord maintains).
type Guild struct {
	ID                          snowflake.ID  `json:"id"`
	Name                        string        `json:"name"`
	Icon                        *string       `json:"icon"`
	Splash                      *string       `json:"splash"`
	DiscoverySplash             *string       `json:"discovery_splash"`
	OwnerID                     snowflake.ID  `json:"owner_id"`
	AFKChannelID                *snowflake.ID `json:"afk_channel_id"`
	AFKTimeout                  int           `json:"afk_timeout"`
	VerificationLevel           int           `json:"verification_level"`
	DefaultMessageNotifications int           `json:"default_message_notifications"`
	ExplicitContentFilter       int           `json:"explicit_content_filter"`
	Roles                       []Role        `json:"roles"`
	Emojis                      []any         `json:"emojis"`
	Stickers                    []any         `json:"stickers"`
	Features                    []string      `json:"features"`
	MFALevel                    int           `json:"mfa_level"`
	SystemChannelID             *snowflake.ID `json:"system_channel_id"`
	SystemChannelFlags          int           `json:"system_channel_flags"`
	RulesChannelID              *snowflake.ID `json:"rules_channel_id"`
	Description                 *string       `json:"description"`
	Banner                      *string       `json:"banner"`
	PremiumTier                 int           `json:"premium_tier"`
	PreferredLocale             string        `json:"preferred_locale"`
	NSFWLevel                   int           `json:"nsfw_level"`
	PremiumProgressBarEnabled   bool          `json:"premium_progress_bar_enabled"`
	ApproximateMemberCount      *int          `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount    *int          `json:"approximate_presence_count,omitempty"`
}

// PartialGuild is an entry of GET /users/@me/guilds.
type PartialGuild struct {
	ID                       snowflake.ID           `json:"id"`
	Name                     string                 `json:"name"`
	Icon                     *string                `json:"icon"`
	Banner                   *string                `json:"banner"`
	Owner                    bool                   `json:"owner"`
	Permissions              permissions.Permission `json:"permissions"`
	Features                 []string               `json:"features"`
	ApproximateMemberCount   *int                   `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount *int                   `json:"approximate_presence_count,omitempty"`
}

// Role is Discord's role object.
type Role struct {
	ID           snowflake.ID           `json:"id"`
	Name         string                 `json:"name"`
	Color        int                    `json:"color"`
	Hoist        bool                   `json:"hoist"`
	Icon         *string                `json:"icon"`
	UnicodeEmoji *string                `json:"unicode_emoji"`
	Position     int                    `json:"position"`
	Permissions  permissions.Permission `json:"permissions"`
	Managed      bool                   `json:"managed"`
	Mentionable  bool                   `json:"mentionable"`
	Flags        int                    `json:"flags"`
	// Tags is present on managed roles only: a bot's role names its bot.
	Tags *RoleTags `json:"tags,omitempty"`
}

// RoleTags says what manages a managed role.
type RoleTags struct {
	BotID snowflake.ID `json:"bot_id"`
}

// Overwrite is a channel permission overwrite; Type 0 is a role, 1 a member.
type Overwrite struct {
	ID    snowflake.ID           `json:"id"`
	Type  int                    `json:"type"`
	Allow permissions.Permission `json:"allow"`
	Deny  permissions.Permission `json:"deny"`
}

// Channel is Discord's channel object for guild channels.
type Channel struct {
	ID                   snowflake.ID  `json:"id"`
	Type                 int           `json:"type"`
	GuildID              *snowflake.ID `json:"guild_id,omitempty"`
	Position             int           `json:"position"`
	PermissionOverwrites []Overwrite   `json:"permission_overwrites"`
	Name                 string        `json:"name"`
	Topic                *string       `json:"topic"`
	NSFW                 bool          `json:"nsfw"`
	LastMessageID        *snowflake.ID `json:"last_message_id"`
	Bitrate              *int          `json:"bitrate,omitempty"`
	UserLimit            *int          `json:"user_limit,omitempty"`
	RateLimitPerUser     int           `json:"rate_limit_per_user"`
	ParentID             *snowflake.ID `json:"parent_id"`
	Flags                int           `json:"flags"`
}

// Member is Discord's guild member object.
type Member struct {
	User                       *User                   `json:"user,omitempty"`
	Nick                       *string                 `json:"nick"`
	Avatar                     *string                 `json:"avatar"`
	Roles                      []snowflake.ID          `json:"roles"`
	JoinedAt                   time.Time               `json:"joined_at"`
	PremiumSince               *time.Time              `json:"premium_since"`
	Deaf                       bool                    `json:"deaf"`
	Mute                       bool                    `json:"mute"`
	Flags                      int                     `json:"flags"`
	Pending                    bool                    `json:"pending"`
	CommunicationDisabledUntil *time.Time              `json:"communication_disabled_until"`
	Permissions                *permissions.Permission `json:"permissions,omitempty"`
	GuildID                    *snowflake.ID           `json:"guild_id,omitempty"`
}

// Ban is Discord's ban object.
type Ban struct {
	Reason *string `json:"reason"`
	User   User    `json:"user"`
}

// InviteGuild and InviteChannel are the partial objects an invite embeds.
type InviteGuild struct {
	ID       snowflake.ID `json:"id"`
	Name     string       `json:"name"`
	Icon     *string      `json:"icon"`
	Features []string     `json:"features"`
}

// InviteChannel is the partial channel an invite embeds.
type InviteChannel struct {
	ID   snowflake.ID `json:"id"`
	Name string       `json:"name"`
	Type int          `json:"type"`
}

// Invite is Discord's invite object, with its metadata.
type Invite struct {
	Type                     int            `json:"type"`
	Code                     string         `json:"code"`
	Guild                    *InviteGuild   `json:"guild,omitempty"`
	Channel                  *InviteChannel `json:"channel"`
	Inviter                  *User          `json:"inviter,omitempty"`
	ExpiresAt                *time.Time     `json:"expires_at"`
	ApproximateMemberCount   *int           `json:"approximate_member_count,omitempty"`
	ApproximatePresenceCount *int           `json:"approximate_presence_count,omitempty"`
	Uses                     *int           `json:"uses,omitempty"`
	MaxUses                  *int           `json:"max_uses,omitempty"`
	MaxAge                   *int           `json:"max_age,omitempty"`
	Temporary                *bool          `json:"temporary,omitempty"`
	CreatedAt                *time.Time     `json:"created_at,omitempty"`
}
