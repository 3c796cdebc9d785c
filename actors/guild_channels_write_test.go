package actors

import (
	"encoding/json"
	"testing"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
)

func TestNormalizeChannelName(t *testing.T) {
	cases := []struct {
		typ        int
		name, want string
	}{
		{discord.ChannelText, "General", "general"},
		{discord.ChannelText, "  Release   Notes ", "release-notes"},
		{discord.ChannelText, "already-fine", "already-fine"},
		{discord.ChannelText, "Ünïcode Ok", "ünïcode-ok"},
		{discord.ChannelText, "   ", ""},
		{discord.ChannelVoice, " Lounge Room ", "Lounge Room"},
		{discord.ChannelCategory, "Text Channels", "Text Channels"},
	}
	for _, tc := range cases {
		if got := normalizeChannelName(tc.typ, tc.name); got != tc.want {
			t.Errorf("normalizeChannelName(%d, %q) = %q, want %q", tc.typ, tc.name, got, tc.want)
		}
	}
}

func TestOverwriteBodyDecoding(t *testing.T) {
	var list []overwriteBody
	raw := `[{"id":"10","type":0,"allow":"1024"},{"id":11,"type":"1","deny":2048,"allow":null},
		{"id":"x","type":2,"allow":"-1"},{"type":"member"}]`
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		t.Fatal(err)
	}
	a, b, c, d := list[0], list[1], list[2], list[3]
	if !a.ID.Set || a.ID.V != 10 || a.Type.V != 0 || !a.Type.Set || a.Allow.V != permissions.ViewChannel || a.Deny.Set {
		t.Errorf("first: %+v", a)
	}
	if b.ID.V != 11 || b.Type.V != 1 || b.Deny.V != permissions.SendMessages || !b.Allow.Null || b.Allow.V != 0 {
		t.Errorf("second: %+v", b)
	}
	if !c.ID.Bad || !c.Type.Bad || !c.Allow.Bad {
		t.Errorf("third should be bad in id, type and allow: %+v", c)
	}
	if d.ID.Set || d.ID.Bad || !d.Type.Set || d.Type.V != 1 {
		t.Errorf("fourth: %+v", d)
	}
}

func TestChangedBits(t *testing.T) {
	old := []persistence.Overwrite{
		{TargetID: 1, Type: 0, Allow: 0b0011, Deny: 0b0100},
		{TargetID: 2, Type: 1, Allow: 0b1000},
	}
	cases := []struct {
		name string
		next []persistence.Overwrite
		want permissions.Permission
	}{
		{"unchanged", old, 0},
		{"removal sets nothing", old[:1], 0},
		{"one bit added", []persistence.Overwrite{{TargetID: 1, Allow: 0b0111, Deny: 0}}, 0b0100},
		{"allow moved to deny", []persistence.Overwrite{{TargetID: 2, Type: 1, Deny: 0b1000}}, 0b1000},
		{"new target", []persistence.Overwrite{{TargetID: 3, Type: 1, Allow: 0b10000, Deny: 0b1}}, 0b10001},
		{"same id, other type", []persistence.Overwrite{{TargetID: 2, Type: 0, Allow: 0b1000}}, 0b1000},
	}
	for _, tc := range cases {
		if got := changedBits(old, tc.next); got != tc.want {
			t.Errorf("%s: changedBits = %b, want %b", tc.name, got, tc.want)
		}
	}
}
