package discord

import (
	"net/http"

	"github.com/accordchat/accord/snowflake"
)

// DMChannel is Discord's channel object for a DM (type 1) or a group DM
// (type 3). Recipients never include the user the object is rendered for.
type DMChannel struct {
	ID            snowflake.ID  `json:"id"`
	Type          int           `json:"type"`
	LastMessageID *snowflake.ID `json:"last_message_id"`
	Flags         int           `json:"flags"`
	Recipients    []User        `json:"recipients"`
	// *GroupDM is set for group DMs only; nil leaves its fields out.
	*GroupDM
}

// GroupDM holds the fields only a group DM's channel object has.
type GroupDM struct {
	Name    *string      `json:"name"`
	Icon    *string      `json:"icon"`
	OwnerID snowflake.ID `json:"owner_id"`
}

// RecipientEvent is the payload of CHANNEL_RECIPIENT_ADD and
// CHANNEL_RECIPIENT_REMOVE.
type RecipientEvent struct {
	ChannelID snowflake.ID `json:"channel_id"`
	User      User         `json:"user"`
}

// Errors of the DM API.
var (
	ErrInvalidRecipients = &Error{Status: http.StatusBadRequest, Code: 50033, Message: "Invalid Recipient(s)"}
	ErrMaxRecipients     = &Error{Status: http.StatusBadRequest, Code: 30004, Message: "Maximum number of recipients reached (10)"}
	ErrDMChannelAction   = &Error{Status: http.StatusBadRequest, Code: 50003, Message: "Cannot execute action on a DM channel"}
	ErrChannelTypeAction = &Error{Status: http.StatusBadRequest, Code: 50024, Message: "Cannot execute action on this channel type"}
)
