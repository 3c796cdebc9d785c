package gateway

// Gateway intents (Discord's bit values).
const (
	IntentGuilds                 uint64 = 1 << 0
	IntentGuildMembers           uint64 = 1 << 1
	IntentGuildModeration        uint64 = 1 << 2
	IntentGuildExpressions       uint64 = 1 << 3
	IntentGuildIntegrations      uint64 = 1 << 4
	IntentGuildWebhooks          uint64 = 1 << 5
	IntentGuildInvites           uint64 = 1 << 6
	IntentGuildVoiceStates       uint64 = 1 << 7
	IntentGuildPresences         uint64 = 1 << 8
	IntentGuildMessages          uint64 = 1 << 9
	IntentGuildMessageReactions  uint64 = 1 << 10
	IntentGuildMessageTyping     uint64 = 1 << 11
	IntentDirectMessages         uint64 = 1 << 12
	IntentDirectMessageReactions uint64 = 1 << 13
	IntentDirectMessageTyping    uint64 = 1 << 14
	IntentMessageContent         uint64 = 1 << 15
	IntentGuildScheduledEvents   uint64 = 1 << 16
	IntentAutoModConfiguration   uint64 = 1 << 20
	IntentAutoModExecution       uint64 = 1 << 21
	IntentGuildMessagePolls      uint64 = 1 << 24
	IntentDirectMessagePolls     uint64 = 1 << 25

	// IntentsAll is every intent Discord defines: any other bit closes
	// Identify with 4013.
	IntentsAll = IntentGuilds | IntentGuildMembers | IntentGuildModeration | IntentGuildExpressions |
		IntentGuildIntegrations | IntentGuildWebhooks | IntentGuildInvites | IntentGuildVoiceStates |
		IntentGuildPresences | IntentGuildMessages | IntentGuildMessageReactions | IntentGuildMessageTyping |
		IntentDirectMessages | IntentDirectMessageReactions | IntentDirectMessageTyping | IntentMessageContent |
		IntentGuildScheduledEvents | IntentAutoModConfiguration | IntentAutoModExecution |
		IntentGuildMessagePolls | IntentDirectMessagePolls

	// IntentsPrivileged need the application's approval (4014 otherwise).
	IntentsPrivileged = IntentGuildMembers | IntentGuildPresences | IntentMessageContent
)

// eventIntent is the intent a session needs to receive an event of type typ,
// in a guild or (guild false) in a DM; 0 when no intent governs it (READY,
// DM channel events, …).
func eventIntent(typ string, guild bool) uint64 {
	switch typ {
	case "GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE",
		"GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE", "GUILD_ROLE_DELETE",
		"THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE", "THREAD_LIST_SYNC", "THREAD_MEMBER_UPDATE",
		"STAGE_INSTANCE_CREATE", "STAGE_INSTANCE_UPDATE", "STAGE_INSTANCE_DELETE":
		return IntentGuilds
	case "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE":
		if guild {
			return IntentGuilds
		}
		return 0
	case "CHANNEL_PINS_UPDATE":
		if guild {
			return IntentGuilds
		}
		return IntentDirectMessages
	case "GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE", "THREAD_MEMBERS_UPDATE":
		return IntentGuildMembers
	case "GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "GUILD_AUDIT_LOG_ENTRY_CREATE":
		return IntentGuildModeration
	case "GUILD_EMOJIS_UPDATE", "GUILD_STICKERS_UPDATE", "GUILD_SOUNDBOARD_SOUND_CREATE",
		"GUILD_SOUNDBOARD_SOUND_UPDATE", "GUILD_SOUNDBOARD_SOUND_DELETE", "GUILD_SOUNDBOARD_SOUNDS_UPDATE":
		return IntentGuildExpressions
	case "INVITE_CREATE", "INVITE_DELETE":
		return IntentGuildInvites
	case "VOICE_STATE_UPDATE":
		return IntentGuildVoiceStates
	case "PRESENCE_UPDATE":
		return IntentGuildPresences
	case "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK":
		if guild {
			return IntentGuildMessages
		}
		return IntentDirectMessages
	case "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI":
		if guild {
			return IntentGuildMessageReactions
		}
		return IntentDirectMessageReactions
	case "TYPING_START":
		if guild {
			return IntentGuildMessageTyping
		}
		return IntentDirectMessageTyping
	}
	return 0
}

// contentGated reports whether an event of type typ carries message content
// that MESSAGE_CONTENT governs for bots.
func contentGated(typ string) bool {
	return typ == "MESSAGE_CREATE" || typ == "MESSAGE_UPDATE"
}
