package actors

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseEmoji(t *testing.T) {
	for in, want := range map[string]string{
		"👍": "👍", "👍🏽": "👍🏽", "❤️": "❤️", "1️⃣": "1️⃣", "#⃣": "#⃣", "🇫🇷": "🇫🇷", "👨‍👩‍👧‍👦": "👨‍👩‍👧‍👦",
		"blob:123": "blob:123", "a:blob:123": "blob:123", "ok_2:00123": "ok_2:123",
	} {
		if got, e := ParseEmoji(in); e != nil || got != want {
			t.Errorf("ParseEmoji(%q) = %q, %v; want %q", in, got, e, want)
		}
	}
	for _, in := range []string{"", "hello", "a", "x 👍", ":x:", "x:1", "blob:", "blob:0", "blob:1x", "b-b:1",
		"é", "\u200d", "\ufe0f👍", "🏽", "1", "12\u20e3", strings.Repeat("👍", 17), "\xff"} {
		if got, e := ParseEmoji(in); e == nil {
			t.Errorf("ParseEmoji(%q) = %q, want Unknown Emoji", in, got)
		}
	}
}

// FuzzParseEmoji: what ParseEmoji accepts is canonical (parsing it again
// gives it back) and, unless custom, holds no ASCII but a keycap's first
// character.
func FuzzParseEmoji(f *testing.F) {
	for _, s := range []string{"👍", "a:blob:123", "1️⃣", "hello", "x:1", "👨‍👩‍👧‍👦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, e := ParseEmoji(in)
		if e != nil {
			return
		}
		if again, e := ParseEmoji(out); e != nil || again != out {
			t.Fatalf("%q → %q → %q, %v", in, out, again, e)
		}
		if customEmoji.MatchString(out) {
			return
		}
		if !utf8.ValidString(out) || utf8.RuneCountInString(out) > maxEmojiRunes {
			t.Fatalf("accepted %q", in)
		}
		for i, r := range out {
			if r < 0x80 && !(i == 0 && isKeycap(out)) {
				t.Fatalf("accepted ASCII in %q", in)
			}
		}
	})
}
