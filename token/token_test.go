package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"
)

func TestNewKey(t *testing.T) {
	before := time.Now().Add(-time.Second)
	seen := make(map[string]bool)
	for range 50 {
		k := mustKey(t)
		if len(k.ID) != 16 {
			t.Fatalf("key id %q has %d characters, want 16", k.ID, len(k.ID))
		}
		if _, err := hex.DecodeString(k.ID); err != nil {
			t.Fatalf("key id %q is not hex", k.ID)
		}
		if seen[k.ID] {
			t.Fatalf("duplicate key id %q", k.ID)
		}
		seen[k.ID] = true
		if len(k.Private) != ed25519.PrivateKeySize || len(k.Public) != ed25519.PublicKeySize {
			t.Fatalf("key sizes %d/%d", len(k.Private), len(k.Public))
		}
		if !k.Public.Equal(k.Private.Public()) {
			t.Fatal("public key does not match private key")
		}
		if k.CreatedAt.Before(before) || k.CreatedAt.After(time.Now()) {
			t.Fatalf("CreatedAt %v not now", k.CreatedAt)
		}
	}
}

func TestNewRefreshToken(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		plain, hash, err := NewRefreshToken()
		if err != nil {
			t.Fatal(err)
		}
		if len(plain) != 43 {
			t.Fatalf("refresh token %q has %d characters, want 43", plain, len(plain))
		}
		raw, err := base64.RawURLEncoding.Strict().DecodeString(plain)
		if err != nil || len(raw) != 32 {
			t.Fatalf("refresh token %q is not 32 bytes of base64url: %v", plain, err)
		}
		want := sha256.Sum256([]byte(plain))
		if !bytes.Equal(hash, want[:]) {
			t.Fatalf("hash = %x, want sha256(plain) = %x", hash, want)
		}
		if !bytes.Equal(HashRefreshToken(plain), hash) {
			t.Fatal("HashRefreshToken(plain) differs from the issued hash")
		}
		if seen[plain] {
			t.Fatalf("duplicate refresh token %q", plain)
		}
		seen[plain] = true
	}
}

func TestHashRefreshToken(t *testing.T) {
	// Known answer: SHA-256 of "abc".
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := hex.EncodeToString(HashRefreshToken("abc")); got != want {
		t.Errorf("HashRefreshToken(abc) = %s, want %s", got, want)
	}
	if bytes.Equal(HashRefreshToken("a"), HashRefreshToken("b")) {
		t.Error("different tokens hash alike")
	}
}

func TestStripScheme(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Bearer abc.def.ghi", "abc.def.ghi"},
		{"Bot abc.def.ghi", "abc.def.ghi"},
		{"bearer abc", "abc"},
		{"BEARER abc", "abc"},
		{"bot abc", "abc"},
		{"BoT abc", "abc"},
		{"abc", "abc"},
		{"  abc  ", "abc"},
		{"  Bearer   abc  ", "abc"},
		{"Bearer", "Bearer"},
		{"Bearer ", "Bearer"},
		{"", ""},
		{"   ", ""},
		{"Basic abc", "Basic abc"},
		{"Bearerabc", "Bearerabc"},
		{"Botabc", "Botabc"},
		{"Bearer Bot abc", "Bot abc"}, // one scheme only
		{"\tBearer abc\r\n", "abc"},
	}
	for _, tt := range tests {
		if got := StripScheme(tt.in); got != tt.want {
			t.Errorf("StripScheme(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkStripScheme(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		StripScheme("Bot MTk4NjIyNDgzNDcxOTI1MjQ4.Cl2FMQ.ZnCjm1XVW7vRze4b7Cq4se7kKWs")
	}
}
