package discord

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/accordchat/accord/snowflake"
)

// AppendJSON appends m encoded as encoding/json encodes it, byte for byte,
// without reflection: the message path encodes every sent message (its
// answer and its MESSAGE_CREATE) this way. Fields the path rarely fills
// (reactions, attachments, embeds, a member's permissions) go through
// encoding/json.
func (m *Message) AppendJSON(b []byte) []byte {
	b = m.appendHead(b)
	if m.GuildID != nil {
		b = appendGuildID(b, *m.GuildID)
	}
	b = m.appendAuthor(b)
	if m.Member != nil {
		b = appendMember(b, m.Member)
	}
	b = m.appendBody(b)
	if m.ChannelType != nil {
		b = appendChannelType(b, *m.ChannelType)
	}
	return append(b, '}')
}

// AppendJSONAndEvent appends to answer what m.AppendJSON does and to event
// what it does for m as MESSAGE_CREATE carries it (the same message with
// guildID and member in a guild, or channelType in a DM), encoding what the
// two share once. Nil arguments are left out. m's own GuildID, Member and
// ChannelType are ignored.
func (m *Message) AppendJSONAndEvent(answer, event []byte, guildID *snowflake.ID, member *Member, channelType *int) ([]byte, []byte) {
	start := len(answer)
	answer = m.appendHead(answer)
	event = append(event, answer[start:]...)
	if guildID != nil {
		event = appendGuildID(event, *guildID)
	}
	start = len(answer)
	answer = m.appendAuthor(answer)
	event = append(event, answer[start:]...)
	if member != nil {
		event = appendMember(event, member)
	}
	start = len(answer)
	answer = m.appendBody(answer)
	event = append(event, answer[start:]...)
	if channelType != nil {
		event = appendChannelType(event, *channelType)
	}
	return append(answer, '}'), append(event, '}')
}

// The parts of a message's JSON, in encoding/json's order: head, guild_id,
// author, member, body, channel_type, and the closing brace.

func (m *Message) appendHead(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendID(b, m.ID)
	b = append(b, `,"channel_id":`...)
	return appendID(b, m.ChannelID)
}

func appendGuildID(b []byte, id snowflake.ID) []byte {
	b = append(b, `,"guild_id":`...)
	return appendID(b, id)
}

func (m *Message) appendAuthor(b []byte) []byte {
	b = append(b, `,"author":`...)
	return m.Author.AppendJSON(b)
}

func appendMember(b []byte, member *Member) []byte {
	b = append(b, `,"member":`...)
	return member.AppendJSON(b)
}

func appendChannelType(b []byte, t int) []byte {
	b = append(b, `,"channel_type":`...)
	return strconv.AppendInt(b, int64(t), 10)
}

// appendBody appends the fields from content to referenced_message.
func (m *Message) appendBody(b []byte) []byte {
	b = append(b, `,"content":`...)
	b = AppendJSONString(b, m.Content)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, m.Timestamp)
	b = append(b, `,"edited_timestamp":`...)
	b = appendTimePtr(b, m.EditedTimestamp)
	b = append(b, `,"tts":`...)
	b = strconv.AppendBool(b, m.TTS)
	b = append(b, `,"mention_everyone":`...)
	b = strconv.AppendBool(b, m.MentionEveryone)
	b = append(b, `,"mentions":`...)
	if m.Mentions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range m.Mentions {
			if i > 0 {
				b = append(b, ',')
			}
			b = m.Mentions[i].AppendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"mention_roles":`...)
	b = appendIDs(b, m.MentionRoles)
	b = append(b, `,"attachments":`...)
	b = appendAnys(b, m.Attachments)
	b = append(b, `,"embeds":`...)
	b = appendAnys(b, m.Embeds)
	if len(m.Reactions) > 0 {
		b = append(b, `,"reactions":`...)
		b = appendMarshal(b, m.Reactions)
	}
	if m.Nonce != nil {
		b = append(b, `,"nonce":`...)
		b = AppendJSONString(b, *m.Nonce)
	}
	b = append(b, `,"pinned":`...)
	b = strconv.AppendBool(b, m.Pinned)
	b = append(b, `,"type":`...)
	b = strconv.AppendInt(b, int64(m.Type), 10)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(m.Flags), 10)
	if r := m.MessageReference; r != nil {
		b = append(b, `,"message_reference":{"type":`...)
		b = strconv.AppendInt(b, int64(r.Type), 10)
		if r.MessageID != nil {
			b = append(b, `,"message_id":`...)
			b = appendID(b, *r.MessageID)
		}
		if r.ChannelID != nil {
			b = append(b, `,"channel_id":`...)
			b = appendID(b, *r.ChannelID)
		}
		if r.GuildID != nil {
			b = append(b, `,"guild_id":`...)
			b = appendID(b, *r.GuildID)
		}
		if r.FailIfNotExists != nil {
			b = append(b, `,"fail_if_not_exists":`...)
			b = strconv.AppendBool(b, *r.FailIfNotExists)
		}
		b = append(b, '}')
	}
	if m.ReferencedMessage != nil {
		b = append(b, `,"referenced_message":`...)
		b = m.ReferencedMessage.AppendJSON(b)
	}
	return b
}

// AppendJSON appends u encoded as encoding/json encodes it.
func (u *User) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendID(b, u.ID)
	b = append(b, `,"username":`...)
	b = AppendJSONString(b, u.Username)
	b = append(b, `,"discriminator":`...)
	b = AppendJSONString(b, u.Discriminator)
	b = append(b, `,"global_name":`...)
	b = appendStringPtr(b, u.GlobalName)
	b = append(b, `,"avatar":`...)
	b = appendStringPtr(b, u.Avatar)
	b = append(b, `,"bot":`...)
	b = strconv.AppendBool(b, u.Bot)
	b = append(b, `,"system":`...)
	b = strconv.AppendBool(b, u.System)
	b = append(b, `,"public_flags":`...)
	b = strconv.AppendInt(b, int64(u.PublicFlags), 10)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(u.Flags), 10)
	if u.MFAEnabled != nil {
		b = append(b, `,"mfa_enabled":`...)
		b = strconv.AppendBool(b, *u.MFAEnabled)
	}
	if u.Locale != nil {
		b = append(b, `,"locale":`...)
		b = AppendJSONString(b, *u.Locale)
	}
	if u.Email != nil {
		b = append(b, `,"email":`...)
		b = AppendJSONString(b, *u.Email)
	}
	if u.Verified != nil {
		b = append(b, `,"verified":`...)
		b = strconv.AppendBool(b, *u.Verified)
	}
	return append(b, '}')
}

// AppendJSON appends m encoded as encoding/json encodes it.
func (m *Member) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if m.User != nil {
		b = append(b, `"user":`...)
		b = m.User.AppendJSON(b)
		b = append(b, ',')
	}
	b = append(b, `"nick":`...)
	b = appendStringPtr(b, m.Nick)
	b = append(b, `,"avatar":`...)
	b = appendStringPtr(b, m.Avatar)
	b = append(b, `,"roles":`...)
	b = appendIDs(b, m.Roles)
	b = append(b, `,"joined_at":`...)
	b = appendTime(b, m.JoinedAt)
	b = append(b, `,"premium_since":`...)
	b = appendTimePtr(b, m.PremiumSince)
	b = append(b, `,"deaf":`...)
	b = strconv.AppendBool(b, m.Deaf)
	b = append(b, `,"mute":`...)
	b = strconv.AppendBool(b, m.Mute)
	b = append(b, `,"flags":`...)
	b = strconv.AppendInt(b, int64(m.Flags), 10)
	b = append(b, `,"pending":`...)
	b = strconv.AppendBool(b, m.Pending)
	b = append(b, `,"communication_disabled_until":`...)
	b = appendTimePtr(b, m.CommunicationDisabledUntil)
	if m.Permissions != nil {
		b = append(b, `,"permissions":`...)
		b = appendMarshal(b, m.Permissions)
	}
	if m.GuildID != nil {
		b = append(b, `,"guild_id":`...)
		b = appendID(b, *m.GuildID)
	}
	return append(b, '}')
}

func appendID(b []byte, id snowflake.ID) []byte {
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, '"')
}

func appendIDs(b []byte, ids []snowflake.ID) []byte {
	if ids == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendID(b, id)
	}
	return append(b, ']')
}

func appendAnys(b []byte, v []any) []byte {
	switch {
	case v == nil:
		return append(b, "null"...)
	case len(v) == 0:
		return append(b, "[]"...)
	}
	return appendMarshal(b, v)
}

func appendStringPtr(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return AppendJSONString(b, *s)
}

// appendTime encodes t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds); a year outside 0–9999, which MarshalJSON refuses, goes
// through encoding/json, which then fails the whole encoding as before.
func appendTime(b []byte, t time.Time) []byte {
	if y := t.Year(); y < 0 || y > 9999 {
		return appendMarshal(b, t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendTimePtr(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendTime(b, *t)
}

// appendMarshal appends v through encoding/json; the rare fields.
func appendMarshal(b []byte, v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		// Not reachable for the field types above; keep the document valid.
		return append(b, "null"...)
	}
	return append(b, out...)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string exactly as encoding/json
// escapes it: quotes, backslashes and control characters, the HTML
// characters <, > and &, U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
