package permissions

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"
)

// discordFlags is Discord's Bitwise Permission Flags table
// (developers/topics/permissions), name and bit.
var discordFlags = []struct {
	name string
	p    Permission
	bit  uint
}{
	{"CREATE_INSTANT_INVITE", CreateInstantInvite, 0},
	{"KICK_MEMBERS", KickMembers, 1},
	{"BAN_MEMBERS", BanMembers, 2},
	{"ADMINISTRATOR", Administrator, 3},
	{"MANAGE_CHANNELS", ManageChannels, 4},
	{"MANAGE_GUILD", ManageGuild, 5},
	{"ADD_REACTIONS", AddReactions, 6},
	{"VIEW_AUDIT_LOG", ViewAuditLog, 7},
	{"PRIORITY_SPEAKER", PrioritySpeaker, 8},
	{"STREAM", Stream, 9},
	{"VIEW_CHANNEL", ViewChannel, 10},
	{"SEND_MESSAGES", SendMessages, 11},
	{"SEND_TTS_MESSAGES", SendTTSMessages, 12},
	{"MANAGE_MESSAGES", ManageMessages, 13},
	{"EMBED_LINKS", EmbedLinks, 14},
	{"ATTACH_FILES", AttachFiles, 15},
	{"READ_MESSAGE_HISTORY", ReadMessageHistory, 16},
	{"MENTION_EVERYONE", MentionEveryone, 17},
	{"USE_EXTERNAL_EMOJIS", UseExternalEmojis, 18},
	{"VIEW_GUILD_INSIGHTS", ViewGuildInsights, 19},
	{"CONNECT", Connect, 20},
	{"SPEAK", Speak, 21},
	{"MUTE_MEMBERS", MuteMembers, 22},
	{"DEAFEN_MEMBERS", DeafenMembers, 23},
	{"MOVE_MEMBERS", MoveMembers, 24},
	{"USE_VAD", UseVAD, 25},
	{"CHANGE_NICKNAME", ChangeNickname, 26},
	{"MANAGE_NICKNAMES", ManageNicknames, 27},
	{"MANAGE_ROLES", ManageRoles, 28},
	{"MANAGE_WEBHOOKS", ManageWebhooks, 29},
	{"MANAGE_GUILD_EXPRESSIONS", ManageGuildExpressions, 30},
	{"USE_APPLICATION_COMMANDS", UseApplicationCommands, 31},
	{"REQUEST_TO_SPEAK", RequestToSpeak, 32},
	{"MANAGE_EVENTS", ManageEvents, 33},
	{"MANAGE_THREADS", ManageThreads, 34},
	{"CREATE_PUBLIC_THREADS", CreatePublicThreads, 35},
	{"CREATE_PRIVATE_THREADS", CreatePrivateThreads, 36},
	{"USE_EXTERNAL_STICKERS", UseExternalStickers, 37},
	{"SEND_MESSAGES_IN_THREADS", SendMessagesInThreads, 38},
	{"USE_EMBEDDED_ACTIVITIES", UseEmbeddedActivities, 39},
	{"MODERATE_MEMBERS", ModerateMembers, 40},
	{"VIEW_CREATOR_MONETIZATION_ANALYTICS", ViewCreatorMonetizationAnalytics, 41},
	{"USE_SOUNDBOARD", UseSoundboard, 42},
	{"CREATE_GUILD_EXPRESSIONS", CreateGuildExpressions, 43},
	{"CREATE_EVENTS", CreateEvents, 44},
	{"USE_EXTERNAL_SOUNDS", UseExternalSounds, 45},
	{"SEND_VOICE_MESSAGES", SendVoiceMessages, 46},
	{"SET_VOICE_CHANNEL_STATUS", SetVoiceChannelStatus, 48},
	{"SEND_POLLS", SendPolls, 49},
	{"USE_EXTERNAL_APPS", UseExternalApps, 50},
	{"PIN_MESSAGES", PinMessages, 51},
	{"BYPASS_SLOWMODE", BypassSlowmode, 52},
}

func TestFlagBits(t *testing.T) {
	var or Permission
	for _, f := range discordFlags {
		if f.p != 1<<f.bit {
			t.Errorf("%s = %#x, want 1<<%d", f.name, uint64(f.p), f.bit)
		}
		if or&f.p != 0 {
			t.Errorf("%s reuses a bit", f.name)
		}
		or |= f.p
	}
	if All != or {
		t.Errorf("All = %#x, want the OR of every flag %#x", uint64(All), uint64(or))
	}
	if All.Has(1 << 47) {
		t.Error("All holds bit 47, which Discord does not assign")
	}
	for name, mask := range map[string]Permission{
		"DefaultEveryone": DefaultEveryone, "TextMask": TextMask, "VoiceMask": VoiceMask,
		"StageMask": StageMask, "RequiresMFA": RequiresMFA, "TimedOutAllowed": TimedOutAllowed,
	} {
		if !All.Has(mask) {
			t.Errorf("%s has bits outside All: %#x", name, uint64(mask&^All))
		}
	}
}

func TestDefaultEveryone(t *testing.T) {
	// Discord's @everyone of guilds created from 2024 on, minus bit 47.
	const observed = 2248473465835073
	if DefaultEveryone != observed&^(1<<47) || DefaultEveryone.String() != "2107735977479745" {
		t.Errorf("DefaultEveryone = %d", DefaultEveryone)
	}
	// The older default (1071698660929) is a subset.
	if !DefaultEveryone.Has(1071698660929) {
		t.Error("DefaultEveryone lacks part of the older default")
	}
	for _, p := range []Permission{ViewChannel, SendMessages, ReadMessageHistory, AddReactions, SendPolls, Connect, Speak} {
		if !DefaultEveryone.Has(p) {
			t.Errorf("DefaultEveryone lacks %d", p)
		}
	}
	for _, p := range []Permission{Administrator, KickMembers, BanMembers, ManageChannels, ManageGuild, ManageMessages, ManageRoles, ModerateMembers, PinMessages, BypassSlowmode} {
		if DefaultEveryone.Has(p) {
			t.Errorf("DefaultEveryone grants %d", p)
		}
	}
}

func TestHas(t *testing.T) {
	p := SendMessages | AddReactions // Discord's example: 2112
	if p != 2112 {
		t.Fatalf("0x40|0x800 = %d, want 2112", p)
	}
	for _, c := range []struct {
		q    Permission
		want bool
	}{
		{0, true},
		{AddReactions, true},
		{SendMessages, true},
		{AddReactions | SendMessages, true},
		{KickMembers, false},
		{SendMessages | KickMembers, false},
	} {
		if got := p.Has(c.q); got != c.want {
			t.Errorf("%d.Has(%d) = %v, want %v", p, c.q, got, c.want)
		}
	}
}

func TestJSON(t *testing.T) {
	type role struct {
		Permissions Permission `json:"permissions"`
	}
	for _, p := range []Permission{0, 2112, DefaultEveryone, All, 1<<64 - 1} {
		b, err := json.Marshal(role{p})
		if err != nil {
			t.Fatal(err)
		}
		want := `{"permissions":"` + strconv.FormatUint(uint64(p), 10) + `"}`
		if string(b) != want {
			t.Errorf("Marshal(%d) = %s, want %s", p, b, want)
		}
		var back role
		if err := json.Unmarshal(b, &back); err != nil || back.Permissions != p {
			t.Errorf("round trip of %d: %d, %v", p, back.Permissions, err)
		}
	}

	good := map[string]Permission{
		`"2112"`:                     2112,
		`2112`:                       2112,
		`"0"`:                        0,
		`0`:                          0,
		`"18446744073709551615"`:     1<<64 - 1,
		`"\u0032\u0031\u0031\u0032"`: 2112,
	}
	for in, want := range good {
		var p Permission
		if err := json.Unmarshal([]byte(in), &p); err != nil || p != want {
			t.Errorf("Unmarshal(%s) = %d, %v; want %d", in, p, err, want)
		}
	}
	p := Permission(7)
	if err := json.Unmarshal([]byte(`null`), &p); err != nil || p != 7 {
		t.Errorf("Unmarshal(null) = %d, %v; want unchanged 7", p, err)
	}

	for _, in := range []string{
		`""`, `"-1"`, `-1`, `"1.0"`, `1.5`, `1e3`, `"0x10"`, `" 1"`, `"1 "`, `"+1"`,
		`"01"`, `"18446744073709551616"`, `18446744073709551616`, `true`, `{}`, `[]`, `"abc"`,
	} {
		var p Permission
		err := json.Unmarshal([]byte(in), &p)
		if err == nil {
			t.Errorf("Unmarshal(%s) = %d, want an error", in, p)
			continue
		}
		// Syntax errors in the JSON itself are reported by encoding/json
		// before UnmarshalJSON runs; everything that reaches it wraps ErrInvalid.
		var se *json.SyntaxError
		if !errors.As(err, &se) && !errors.Is(err, ErrInvalid) {
			t.Errorf("Unmarshal(%s): %v does not wrap ErrInvalid", in, err)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Permission{
		"0": 0, "8": Administrator, "2112": 2112, "2107735977479745": DefaultEveryone,
		"18446744073709551615": 1<<64 - 1,
	} {
		p, err := Parse(in)
		if err != nil || p != want || p.String() != in {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, p, err, want)
		}
	}
	for _, in := range []string{"", "00", "08", "-0", "-1", "+1", " 1", "1 ", "1_000", "0x8", "18446744073709551616", "99999999999999999999", "１"} {
		if p, err := Parse(in); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Parse(%q) = %d, %v; want an ErrInvalid error", in, p, err)
		}
	}
}

// FuzzParse checks that Parse never panics, accepts exactly the canonical
// decimal numbers that fit in 64 bits, and round-trips through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "2112", "00", "01", "-1", "18446744073709551615", "18446744073709551616", "", " 1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		n, stdErr := strconv.ParseUint(s, 10, 64)
		canonical := stdErr == nil && strconv.FormatUint(n, 10) == s
		if canonical != (err == nil) {
			t.Fatalf("Parse(%q) = %d, %v; strconv says canonical=%v", s, p, err, canonical)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Parse(%q): %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if uint64(p) != n || p.String() != s {
			t.Fatalf("Parse(%q) = %d, String %q", s, p, p.String())
		}
	})
}

// FuzzUnmarshalJSON checks that UnmarshalJSON never panics and that
// whatever it accepts marshals back to a value it decodes identically.
func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`"2112"`, `2112`, `null`, `"\u0031"`, `"01"`, `-1`, `1.5`, `"`, `""`, `"18446744073709551615"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Permission
		if err := p.UnmarshalJSON(data); err != nil {
			return
		}
		b, err := p.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var q Permission
		if err := json.Unmarshal(b, &q); err != nil || q != p {
			t.Fatalf("%q decoded to %d, re-encoded as %s, decoded to %d (%v)", data, p, b, q, err)
		}
	})
}
