package discord

import (
	"time"

	"github.com/accordchat/accord/snowflake"
)

// Message is Discord's message object.
type Message struct {
	ID                snowflake.ID      `json:"id"`
	ChannelID         snowflake.ID      `json:"channel_id"`
	GuildID           *snowflake.ID     `json:"guild_id,omitempty"`
	Author            User              `json:"author"`
	Member            *Member           `json:"member,omitempty"`
	Content           string            `json:"content"`
	Timestamp         time.Time         `json:"timestamp"`
	EditedTimestamp   *time.Time        `json:"edited_timestamp"`
	TTS               bool              `json:"tts"`
	MentionEveryone   bool              `json:"mention_everyone"`
	Mentions          []User            `json:"mentions"`
	MentionRoles      []snowflake.ID    `json:"mention_roles"`
	Attachments       []any             `json:"attachments"`
	Embeds            []any             `json:"embeds"`
	Reactions         []Reaction        `json:"reactions,omitempty"`
	Nonce             *string           `json:"nonce,omitempty"`
	Pinned            bool              `json:"pinned"`
	Type              int               `json:"type"`
	Flags             int               `json:"flags"`
	MessageReference  *MessageReference `json:"message_reference,omitempty"`
	ReferencedMessage *Message          `json:"referenced_message,omitempty"`
	ChannelType       *int              `json:"channel_type,omitempty"`
}

// MessageReference points a reply at the message it answers.
type MessageReference struct {
	Type            int           `json:"type"`
	MessageID       *snowflake.ID `json:"message_id,omitempty"`
	ChannelID       *snowflake.ID `json:"channel_id,omitempty"`
	GuildID         *snowflake.ID `json:"guild_id,omitempty"`
	FailIfNotExists *bool         `json:"fail_if_not_exists,omitempty"`
}

// Emoji is a reaction's emoji: a unicode one (ID nil) or a custom one.
type Emoji struct {
	ID   *snowflake.ID `json:"id"`
	Name string        `json:"name"`
}

// Reaction is a message's reaction summary.
type Reaction struct {
	Count        int   `json:"count"`
	CountDetails any   `json:"count_details"`
	Me           bool  `json:"me"`
	MeBurst      bool  `json:"me_burst"`
	Emoji        Emoji `json:"emoji"`
	BurstColors  []any `json:"burst_colors"`
}

// AllowedMentions is the allowed_mentions object of a message send.
type AllowedMentions struct {
	Parse       []string       `json:"parse"`
	Roles       []snowflake.ID `json:"roles"`
	Users       []snowflake.ID `json:"users"`
	RepliedUser bool           `json:"replied_user"`
}
