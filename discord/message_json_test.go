package discord

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

func sf(v int64) *snowflake.ID { id := snowflake.ID(v); return &id }
func str(s string) *string     { return &s }
func yes(b bool) *bool         { return &b }

// AppendJSON must produce exactly what encoding/json produces: the two
// encodings meet in clients' caches (a send's answer, history, events).
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	ts := time.Date(2026, 11, 25, 19, 30, 1, 123456789, time.UTC)
	local := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("", 2*3600+1800))
	typ := 3
	author := User{ID: 1234567890123, Username: `a "quoted" <user> & co`, Discriminator: "0042", GlobalName: str("Zoë\u2028"),
		Avatar: str("abc"), Bot: true, PublicFlags: 64, MFAEnabled: yes(true), Locale: str("en-US"), Email: str("x@example.com"), Verified: yes(false)}
	member := Member{User: &author, Nick: str("nick\t"), Roles: []snowflake.ID{1, 2, 3}, JoinedAt: local, PremiumSince: &ts,
		Deaf: true, Flags: 2, Pending: true, CommunicationDisabledUntil: &local, GuildID: sf(77)}
	perms := permissions.Permission(2112)
	reply := Message{ID: 9, ChannelID: 10, Author: User{ID: 5, Username: "r", Discriminator: "0001"}, Content: "earlier",
		Timestamp: ts, Mentions: []User{}, MentionRoles: []snowflake.ID{}, Attachments: []any{}, Embeds: []any{}}
	cases := map[string]Message{
		"zero": {},
		"plain": {ID: 1, ChannelID: 2, Author: User{ID: 3, Username: "u", Discriminator: "0001"}, Content: "hello",
			Timestamp: ts, Mentions: []User{}, MentionRoles: []snowflake.ID{}, Attachments: []any{}, Embeds: []any{}},
		"event": {ID: 1, ChannelID: 2, GuildID: sf(3), Author: author, Member: &Member{Roles: []snowflake.ID{}, JoinedAt: local},
			Content:   "line\nbreak \x00\x1f\x7f \b\f\\ \xff\xfe invalid, emoji 🎉, <script>&amp;</script> \u2029",
			Timestamp: ts, EditedTimestamp: &local, TTS: true, MentionEveryone: true,
			Mentions: []User{author, {ID: 8, Username: "m", Discriminator: "0002"}}, MentionRoles: []snowflake.ID{4, 5},
			Attachments: []any{}, Embeds: []any{map[string]any{"title": "x"}}, Nonce: str("n-1"), Pinned: true, Type: 19, Flags: 4,
			MessageReference:  &MessageReference{Type: 0, MessageID: sf(9), ChannelID: sf(2), GuildID: sf(3), FailIfNotExists: yes(false)},
			ReferencedMessage: &reply, ChannelType: &typ,
			Reactions: []Reaction{{Count: 2, CountDetails: map[string]int{"burst": 0, "normal": 2}, Me: true,
				Emoji: Emoji{Name: "👍"}, BurstColors: []any{}}}},
		"full member": {ID: 1, ChannelID: 2, Author: author, Member: &member, Timestamp: ts},
		"member permissions": {ID: 1, ChannelID: 2, Member: &Member{Permissions: &perms}, Timestamp: ts,
			MessageReference: &MessageReference{Type: 1}},
	}
	for name, m := range cases {
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := m.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
		// Appending keeps what the buffer held.
		if got := m.AppendJSON([]byte("x")); !bytes.Equal(got, append([]byte("x"), want...)) {
			t.Errorf("%s: append to a non-empty buffer: %s", name, got)
		}
		// The answer and the event encoded together: each as alone.
		plain := m
		plain.GuildID, plain.Member, plain.ChannelType = nil, nil, nil
		wantAnswer, _ := json.Marshal(plain)
		answer, event := plain.AppendJSONAndEvent([]byte("a"), []byte("e"), m.GuildID, m.Member, m.ChannelType)
		if !bytes.Equal(answer, append([]byte("a"), wantAnswer...)) {
			t.Errorf("%s: answer with the event:\n got %s\nwant %s", name, answer, wantAnswer)
		}
		if !bytes.Equal(event, append([]byte("e"), want...)) {
			t.Errorf("%s: event with the answer:\n got %s\nwant %s", name, event, want)
		}
	}
}

func TestAppendJSONStringEveryByte(t *testing.T) {
	var all strings.Builder
	for c := range 256 {
		all.WriteByte(byte(c))
	}
	for _, s := range []string{"", all.String(), "\u2028\u2029\ufffd", "ascii only", "é\xc3", strings.Repeat("<&>", 10)} {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("hello")
	f.Add("\x00\u2028<\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

func BenchmarkMessageJSON(b *testing.B) {
	ts := time.Now()
	m := Message{ID: 1, ChannelID: 2, GuildID: sf(3), Author: User{ID: 3, Username: "someone", Discriminator: "0001"},
		Member: &Member{Roles: []snowflake.ID{}, JoinedAt: ts}, Content: "benchmark message with a little text in it",
		Timestamp: ts, Mentions: []User{}, MentionRoles: []snowflake.ID{}, Attachments: []any{}, Embeds: []any{}}
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(&m)
		}
	})
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			buf = m.AppendJSON(buf[:0])
		}
	})
}
