package token

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBotTokenRoundTrip(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	plain, hash, err := NewBotToken(1234567890123456789, now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(plain, ".") != 2 {
		t.Fatalf("token %q is not three parts", plain)
	}
	id, got, ok := ParseBot(plain)
	if !ok || id != 1234567890123456789 || !bytes.Equal(got, hash) {
		t.Fatalf("ParseBot(%q) = %d, %x, %v; want the id and hash %x", plain, id, got, ok, hash)
	}
	// Another token for the same bot has another secret.
	plain2, hash2, _ := NewBotToken(1234567890123456789, now)
	if plain2 == plain || bytes.Equal(hash, hash2) {
		t.Fatal("two tokens share a secret")
	}
	// A changed secret gives a different hash.
	repl := "A"
	if plain[len(plain)-1] == 'A' {
		repl = "B"
	}
	mangled := plain[:len(plain)-1] + repl
	if _, h, ok := ParseBot(mangled); ok && bytes.Equal(h, hash) {
		t.Fatal("a changed secret hashes the same")
	}
}

func TestParseBotRejects(t *testing.T) {
	valid, _, _ := NewBotToken(42, time.Now())
	parts := strings.Split(valid, ".")
	// A real JWT: its first part decodes to JSON, not digits.
	jwt := "eyJhbGciOiJFZERTQSIsImtpZCI6ImFiYyIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0." + parts[2]
	for name, raw := range map[string]string{
		"empty":         "",
		"two parts":     parts[0] + "." + parts[2],
		"jwt":           jwt,
		"letters in id": "YWJj." + parts[1] + "." + parts[2],
		"zero id":       "MA." + parts[1] + "." + parts[2],
		"short secret":  parts[0] + "." + parts[1] + "." + parts[2][:20],
		"bad secret":    parts[0] + "." + parts[1] + "." + strings.Repeat("*", len(parts[2])),
		"empty issued":  parts[0] + ".." + parts[2],
		"long":          strings.Repeat("a", 300),
	} {
		if _, _, ok := ParseBot(raw); ok {
			t.Errorf("%s: ParseBot(%q) accepted", name, raw)
		}
	}
	if _, _, err := NewBotToken(0, time.Now()); err == nil {
		t.Error("NewBotToken(0) succeeded")
	}
}

func FuzzParseBot(f *testing.F) {
	valid, _, _ := NewBotToken(42, time.Now())
	f.Add(valid)
	f.Add("MTIz.MTc.")
	f.Fuzz(func(t *testing.T, raw string) {
		id, hash, ok := ParseBot(raw)
		if ok && (id <= 0 || len(hash) != 32) {
			t.Fatalf("ParseBot(%q) = %d, %x", raw, id, hash)
		}
	})
}
