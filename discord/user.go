package discord

import "github.com/accordchat/accord/snowflake"

// User is Discord's user object. Email and Verified are set only when a user
// reads itself (GET /users/@me).
type User struct {
	ID            snowflake.ID `json:"id"`
	Username      string       `json:"username"`
	Discriminator string       `json:"discriminator"`
	GlobalName    *string      `json:"global_name"`
	Avatar        *string      `json:"avatar"`
	Bot           bool         `json:"bot"`
	System        bool         `json:"system"`
	PublicFlags   int          `json:"public_flags"`
	Flags         int          `json:"flags"`
	MFAEnabled    *bool        `json:"mfa_enabled,omitempty"`
	Locale        *string      `json:"locale,omitempty"`
	Email         *string      `json:"email,omitempty"`
	Verified      *bool        `json:"verified,omitempty"`
}
