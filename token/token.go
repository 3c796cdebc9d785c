// Package token issues and verifies Accord's credentials: short-lived access
// tokens (EdDSA-signed JWTs) and opaque refresh tokens.
//
// An access token carries the user id ("sub"), the session family id ("sid"),
// "iat", "exp", the audience ("aud") and "typ":"access", and names its signing
// key in the header ("kid"). Keys rotate; the KeySet, backed by PostgreSQL
// elsewhere, supplies the current signing key and any still-trusted public
// key by id. Verification accepts only EdDSA, so neither "alg":"none" nor an
// HMAC token keyed with a public key can pass.
//
// A refresh token is 32 random bytes, base64url-encoded; only its SHA-256
// hash is stored, so a database leak does not reveal usable tokens.
package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidToken is wrapped by every error Verify returns for a token that
// is malformed, badly signed, expired, signed by an unknown key or carries the
// wrong claims. It maps to HTTP 401 / gateway close 4004.
var ErrInvalidToken = errors.New("token: invalid token")

// ErrUnknownKey is what a KeySet's VerificationKey returns (possibly wrapped)
// when it has no key with the requested id. Verify reports it as
// ErrInvalidToken; any other KeySet error is a server fault and is returned
// without ErrInvalidToken.
var ErrUnknownKey = errors.New("token: unknown key id")

// ErrNoSigningKey is returned by Issuer.Issue when the KeySet's signing key
// has no usable ed25519 private key.
var ErrNoSigningKey = errors.New("token: signing key has no ed25519 private key")

// ErrInvalidID is returned by Issuer.Issue for a user or session id that is
// not positive.
var ErrInvalidID = errors.New("token: user and session ids must be positive")

// Key is one signing key pair. ID is the "kid" written into token headers.
type Key struct {
	// ID names the key in token headers; NewKey makes 16 hex characters.
	ID string
	// Private signs new tokens. It may be nil for a key that only verifies.
	Private ed25519.PrivateKey
	// Public verifies tokens signed with Private.
	Public ed25519.PublicKey
	// CreatedAt is when the key was made, for rotation decisions.
	CreatedAt time.Time
}

// KeySet supplies keys to an Issuer. It must be safe for concurrent use.
type KeySet interface {
	// SigningKey returns the key new tokens are signed with.
	SigningKey() (Key, error)
	// VerificationKey returns the public key with id kid, or an error
	// wrapping ErrUnknownKey when there is none (or it is no longer trusted).
	VerificationKey(kid string) (ed25519.PublicKey, error)
}

// NewKey returns a fresh random ed25519 key pair with a random 16-hex-digit id.
func NewKey() (Key, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("token: generate key: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return Key{}, fmt.Errorf("token: generate key id: %w", err)
	}
	return Key{ID: hex.EncodeToString(id[:]), Private: priv, Public: pub, CreatedAt: time.Now().UTC()}, nil
}

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// NewRefreshToken returns a new refresh token for the client (plain: 32
// random bytes, base64url without padding, 43 characters) and the value to
// store (hash: SHA-256 of plain, see HashRefreshToken).
func NewRefreshToken() (plain string, hash []byte, err error) {
	var b [refreshTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("token: generate refresh token: %w", err)
	}
	plain = base64.RawURLEncoding.EncodeToString(b[:])
	return plain, HashRefreshToken(plain), nil
}

// HashRefreshToken returns the SHA-256 of plain, the form in which refresh
// tokens are stored and looked up. The tokens carry 256 bits of entropy, so a
// fast unsalted hash suffices.
func HashRefreshToken(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// StripScheme returns the credential in an Authorization header value or an
// Identify token: it trims surrounding spaces and removes a leading "Bearer "
// or "Bot " scheme, matched case-insensitively. "Bearer x", "Bot x",
// "bearer  x" and "x" all give "x"; other schemes are left in place.
func StripScheme(header string) string {
	h := strings.TrimSpace(header)
	scheme, rest, ok := strings.Cut(h, " ")
	if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Bot")) {
		return strings.TrimSpace(rest)
	}
	return h
}
