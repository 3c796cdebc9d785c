package token

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Bot tokens are shaped as Discord's: three dot-separated parts,
// base64(decimal bot id) "." base64(issue time, unix seconds) "." secret,
// where the secret is 32 random bytes, base64url without padding. Only the
// SHA-256 of the secret is stored; the id says which row to compare it with.
// The first part of a JWT decodes to a JSON header, never to digits, so the
// two kinds of token cannot be confused.

// botSecretBytes is the entropy of a bot token's secret.
const botSecretBytes = 32

// maxBotTokenLength bounds what ParseBot looks at; real ones are ~80 bytes.
const maxBotTokenLength = 200

// NewBotToken returns a new token for bot botID issued at now (plain, for
// the owner, shown once) and the hash of its secret to store.
func NewBotToken(botID int64, now time.Time) (plain string, hash []byte, err error) {
	if botID <= 0 {
		return "", nil, fmt.Errorf("%w: bot %d", ErrInvalidID, botID)
	}
	var b [botSecretBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("token: generate bot token: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b[:])
	plain = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(botID, 10))) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(now.Unix(), 10))) + "." + secret
	return plain, hashSecret(secret), nil
}

// ParseBot reports whether raw is shaped as a bot token and, if so, returns
// the bot id it names and the hash of its secret to compare with the stored
// one. It checks the shape only: a forged token parses.
func ParseBot(raw string) (botID int64, hash []byte, ok bool) {
	if len(raw) > maxBotTokenLength {
		return 0, nil, false
	}
	idPart, rest, ok1 := strings.Cut(raw, ".")
	issued, secret, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || issued == "" || len(secret) != base64.RawURLEncoding.EncodedLen(botSecretBytes) {
		return 0, nil, false
	}
	id, ok := decodeDigits(idPart)
	if !ok || id <= 0 {
		return 0, nil, false
	}
	if _, ok := decodeDigits(issued); !ok {
		return 0, nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return 0, nil, false
	}
	return id, hashSecret(secret), true
}

// decodeDigits decodes base64 (URL alphabet, padding tolerated, as Discord's
// tokens use the standard alphabet's digits-only subset) of a decimal number.
func decodeDigits(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}

func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
