// Package permissions is Accord's one permission function: Discord's permission
// bit set, the guild-level and channel-level computations, timeouts and the
// role hierarchy. The guild grain, the REST layer and the gateway dispatcher
// all call it; nothing else decides what a member may do.
//
// # Source
//
// Flags, the computation and the hierarchy follow the "Permissions" topic of
// Discord's developer documentation (developers/topics/permissions in
// github.com/discord/discord-api-docs): the Bitwise Permission Flags table,
// compute_base_permissions and compute_overwrites under "Permission
// Overwrites", "Implicit Permissions", "Permission Hierarchy" and
// "Permissions For Timed Out Members".
//
// # Computation
//
// [Base] is compute_base_permissions: the owner gets [All]; everyone else gets
// the @everyone role's permissions OR those of each of their roles, and
// [Administrator] among them means [All].
//
// [Channel] is compute_overwrites on top of Base, then the implicit rule that
// a member without [ViewChannel] in a channel has no permission there at all,
// then the timeout rule: a timed-out member who is neither the owner nor an
// administrator keeps only [TimedOutAllowed] (ViewChannel and
// ReadMessageHistory). [GuildLevel] is Base with the timeout rule and is
// what guild-wide actions (kick, ban, manage roles, ...) check.
//
// Only the ViewChannel rule is applied inside Channel. Discord's other
// implicit denials depend on the action and stay with the caller: sending
// with attachments, embeds, TTS or @everyone also needs [SendMessages]; in a
// thread [SendMessagesInThreads] replaces SendMessages; in voice and stage
// channels most actions also need [Connect].
//
// # Decisions where Discord is silent
//
//   - A role id in Member.Roles that the guild does not define is ignored
//     everywhere: it adds no permissions, its channel overwrite is not
//     applied, and it does not count in the hierarchy. A member's role list
//     never contains @everyone on Discord; if it does (Roles holds the guild
//     id), that entry is ignored, since @everyone already applies.
//   - A guild without an @everyone role in Guild.Roles behaves as if
//     @everyone had no permissions and position 0.
//   - Overwrites are keyed by (Type, ID): a member overwrite never acts as a
//     role overwrite and vice versa, whatever its id. Callers pass at most
//     one overwrite per (Type, ID), as Discord stores them; overwrites of an
//     unknown Type are ignored.
//   - Roles of equal position rank by id, the lower (older) id higher, as
//     discord.js orders them; see [RoleLess].
//   - Bits that no flag defines survive parsing and the computation (a
//     member without Administrator keeps them; [All] does not contain them).
//     Mask with All to drop them when storing client input.
//
// # Speed
//
// The computations allocate nothing. The plain functions scan Guild.Roles
// linearly, which suits small guilds and one-off checks; an [Index], built
// once per guild state version, looks roles up by binary search and serves
// the per-message and per-recipient checks. Both give identical results.
package permissions

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Permission is a set of Discord permission flags. On the wire it is a
// decimal JSON string ("2112"), as in Discord API v8 and later.
type Permission uint64

// The permission flags, with Discord's bits. Bit 47 is unassigned in
// Discord's documentation and has no constant here.
const (
	CreateInstantInvite              Permission = 1 << 0
	KickMembers                      Permission = 1 << 1
	BanMembers                       Permission = 1 << 2
	Administrator                    Permission = 1 << 3
	ManageChannels                   Permission = 1 << 4
	ManageGuild                      Permission = 1 << 5
	AddReactions                     Permission = 1 << 6
	ViewAuditLog                     Permission = 1 << 7
	PrioritySpeaker                  Permission = 1 << 8
	Stream                           Permission = 1 << 9
	ViewChannel                      Permission = 1 << 10
	SendMessages                     Permission = 1 << 11
	SendTTSMessages                  Permission = 1 << 12
	ManageMessages                   Permission = 1 << 13
	EmbedLinks                       Permission = 1 << 14
	AttachFiles                      Permission = 1 << 15
	ReadMessageHistory               Permission = 1 << 16
	MentionEveryone                  Permission = 1 << 17
	UseExternalEmojis                Permission = 1 << 18
	ViewGuildInsights                Permission = 1 << 19
	Connect                          Permission = 1 << 20
	Speak                            Permission = 1 << 21
	MuteMembers                      Permission = 1 << 22
	DeafenMembers                    Permission = 1 << 23
	MoveMembers                      Permission = 1 << 24
	UseVAD                           Permission = 1 << 25
	ChangeNickname                   Permission = 1 << 26
	ManageNicknames                  Permission = 1 << 27
	ManageRoles                      Permission = 1 << 28
	ManageWebhooks                   Permission = 1 << 29
	ManageGuildExpressions           Permission = 1 << 30 // formerly MANAGE_EMOJIS_AND_STICKERS
	UseApplicationCommands           Permission = 1 << 31
	RequestToSpeak                   Permission = 1 << 32
	ManageEvents                     Permission = 1 << 33
	ManageThreads                    Permission = 1 << 34
	CreatePublicThreads              Permission = 1 << 35
	CreatePrivateThreads             Permission = 1 << 36
	UseExternalStickers              Permission = 1 << 37
	SendMessagesInThreads            Permission = 1 << 38
	UseEmbeddedActivities            Permission = 1 << 39
	ModerateMembers                  Permission = 1 << 40
	ViewCreatorMonetizationAnalytics Permission = 1 << 41
	UseSoundboard                    Permission = 1 << 42
	CreateGuildExpressions           Permission = 1 << 43
	CreateEvents                     Permission = 1 << 44
	UseExternalSounds                Permission = 1 << 45
	SendVoiceMessages                Permission = 1 << 46
	SetVoiceChannelStatus            Permission = 1 << 48
	SendPolls                        Permission = 1 << 49
	UseExternalApps                  Permission = 1 << 50
	PinMessages                      Permission = 1 << 51
	BypassSlowmode                   Permission = 1 << 52
)

// All is every defined flag: what the owner and administrators have.
const All = CreateInstantInvite | KickMembers | BanMembers | Administrator |
	ManageChannels | ManageGuild | AddReactions | ViewAuditLog |
	PrioritySpeaker | Stream | ViewChannel | SendMessages | SendTTSMessages |
	ManageMessages | EmbedLinks | AttachFiles | ReadMessageHistory |
	MentionEveryone | UseExternalEmojis | ViewGuildInsights | Connect | Speak |
	MuteMembers | DeafenMembers | MoveMembers | UseVAD | ChangeNickname |
	ManageNicknames | ManageRoles | ManageWebhooks | ManageGuildExpressions |
	UseApplicationCommands | RequestToSpeak | ManageEvents | ManageThreads |
	CreatePublicThreads | CreatePrivateThreads | UseExternalStickers |
	SendMessagesInThreads | UseEmbeddedActivities | ModerateMembers |
	ViewCreatorMonetizationAnalytics | UseSoundboard | CreateGuildExpressions |
	CreateEvents | UseExternalSounds | SendVoiceMessages |
	SetVoiceChannelStatus | SendPolls | UseExternalApps | PinMessages |
	BypassSlowmode

// DefaultEveryone is the @everyone role's permissions in a new guild
// (2107735977479745).
//
// Discord does not document this value; it is what Discord returns for the
// @everyone role of guilds created from 2024 on (2248473465835073, seen in
// guild and interaction payloads), without bit 47, which no documented flag
// uses. Guilds created around 2021–2023 were seeded with 1071698660929, which
// lacks the later member-level flags (soundboard, expressions and events
// creation, voice messages, voice channel status, polls, external apps);
// Accord uses the newer set so that a member of a new guild can, as on
// Discord, send polls and voice messages.
const DefaultEveryone = CreateInstantInvite | AddReactions | Stream |
	ViewChannel | SendMessages | EmbedLinks | AttachFiles | ReadMessageHistory |
	MentionEveryone | UseExternalEmojis | Connect | Speak | UseVAD |
	ChangeNickname | UseApplicationCommands | RequestToSpeak |
	CreatePublicThreads | CreatePrivateThreads | UseExternalStickers |
	SendMessagesInThreads | UseEmbeddedActivities | UseSoundboard |
	CreateGuildExpressions | CreateEvents | UseExternalSounds |
	SendVoiceMessages | SetVoiceChannelStatus | SendPolls | UseExternalApps

// TimedOutAllowed is what a timed-out member keeps unless they are the owner
// or an administrator.
const TimedOutAllowed = ViewChannel | ReadMessageHistory

// Channel-type masks: the flags Discord's table marks as applying to text
// (GUILD_TEXT, GUILD_ANNOUNCEMENT, GUILD_FORUM, GUILD_MEDIA), voice
// (GUILD_VOICE) and stage (GUILD_STAGE_VOICE) channels. Discord accepts
// overwrites with other bits too and [Channel] does not strip them; the masks
// are for callers that present or validate channel permissions.
const (
	TextMask = CreateInstantInvite | ManageChannels | AddReactions |
		ViewChannel | SendMessages | SendTTSMessages | ManageMessages |
		EmbedLinks | AttachFiles | ReadMessageHistory | MentionEveryone |
		UseExternalEmojis | ManageRoles | ManageWebhooks |
		UseApplicationCommands | ManageThreads | CreatePublicThreads |
		CreatePrivateThreads | UseExternalStickers | SendMessagesInThreads |
		UseEmbeddedActivities | SendVoiceMessages | SendPolls |
		UseExternalApps | PinMessages | BypassSlowmode

	VoiceMask = CreateInstantInvite | ManageChannels | AddReactions |
		PrioritySpeaker | Stream | ViewChannel | SendMessages |
		SendTTSMessages | ManageMessages | EmbedLinks | AttachFiles |
		ReadMessageHistory | MentionEveryone | UseExternalEmojis | Connect |
		Speak | MuteMembers | DeafenMembers | MoveMembers | UseVAD |
		ManageRoles | ManageWebhooks | UseApplicationCommands | ManageEvents |
		UseExternalStickers | UseEmbeddedActivities | UseSoundboard |
		CreateEvents | UseExternalSounds | SendVoiceMessages |
		SetVoiceChannelStatus | SendPolls | UseExternalApps | BypassSlowmode

	StageMask = CreateInstantInvite | ManageChannels | AddReactions | Stream |
		ViewChannel | SendMessages | SendTTSMessages | ManageMessages |
		EmbedLinks | AttachFiles | ReadMessageHistory | MentionEveryone |
		UseExternalEmojis | Connect | MuteMembers | MoveMembers | ManageRoles |
		ManageWebhooks | UseApplicationCommands | RequestToSpeak |
		ManageEvents | UseExternalStickers | CreateEvents | SendVoiceMessages |
		SendPolls | UseExternalApps | BypassSlowmode
)

// RequiresMFA holds the flags that Discord marks as needing the acting
// account to have two-factor authentication in a guild whose MFA level
// requires it.
const RequiresMFA = KickMembers | BanMembers | Administrator |
	ManageChannels | ManageGuild | ManageMessages | ManageRoles |
	ManageWebhooks | ManageGuildExpressions | ManageThreads |
	ViewCreatorMonetizationAnalytics

// ErrInvalid is wrapped by every error from Parse and UnmarshalJSON.
var ErrInvalid = errors.New("permissions: invalid permission set")

// Has reports whether p contains every flag of q. Has(0) is true.
func (p Permission) Has(q Permission) bool { return p&q == q }

// String returns p in decimal, its wire form without the quotes.
func (p Permission) String() string { return strconv.FormatUint(uint64(p), 10) }

// MarshalJSON encodes p as a decimal JSON string.
func (p Permission) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendUint(b, uint64(p), 10)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a decimal string ("2112"), what Discord sends, or a
// JSON number (2112), which Discord accepts in requests; either must be in
// the form Parse accepts. JSON null leaves p unchanged.
func (p *Permission) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	if len(data) >= 2 && data[0] == '"' && data[len(data)-1] == '"' {
		raw := data[1 : len(data)-1]
		for _, c := range raw {
			if c == '\\' {
				// Escaped digits are legal JSON; decode the rare case fully.
				var s string
				if err := json.Unmarshal(data, &s); err != nil {
					return fmt.Errorf("%w: %w", ErrInvalid, err)
				}
				return p.set([]byte(s))
			}
		}
		return p.set(raw)
	}
	return p.set(data)
}

func (p *Permission) set(s []byte) error {
	v, reason := parse(s)
	if reason != "" {
		return fmt.Errorf("%w: %q %s", ErrInvalid, s, reason)
	}
	*p = v
	return nil
}

// Parse parses the canonical decimal form of a permission set, what String
// returns: ASCII digits only, no sign, no spaces, no leading zeros (except
// "0" itself), value within 64 bits. Accepting only the canonical form makes
// Parse(s).String() == s for every accepted s. Undefined bits are kept.
func Parse(s string) (Permission, error) {
	v, reason := parse(s)
	if reason != "" {
		return 0, fmt.Errorf("%w: %q %s", ErrInvalid, s, reason)
	}
	return v, nil
}

// parse is Parse without allocating; a non-empty reason says why s is
// invalid.
func parse[S string | []byte](s S) (Permission, string) {
	if len(s) == 0 {
		return 0, "is empty"
	}
	if s[0] == '0' && len(s) > 1 {
		return 0, "has a leading zero"
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, "is not a decimal number"
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, "overflows 64 bits"
		}
		n = n*10 + d
	}
	return Permission(n), ""
}
