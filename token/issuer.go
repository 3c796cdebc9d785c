package token

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// DefaultAudience is the "aud" of access tokens when Config.Audience is empty.
	DefaultAudience = "accord"
	// DefaultTTL is the lifetime of access tokens when Config.TTL is zero.
	DefaultTTL = 15 * time.Minute
	// Leeway is the clock skew tolerated on "exp" and "iat".
	Leeway = 5 * time.Second

	// typeAccess is the "typ" claim of access tokens, so that any other
	// token we might sign with the same keys cannot pass as one.
	typeAccess = "access"
	// maxTokenLength bounds the input Verify is willing to decode. Our tokens
	// are about 300 bytes.
	maxTokenLength = 2048
	// maxKeyIDLength bounds the "kid" handed to the KeySet.
	maxKeyIDLength = 64
)

// Config configures an Issuer.
type Config struct {
	// Keys supplies the signing key and verification keys. Required.
	Keys KeySet
	// Audience is the "aud" claim written and required. Default "accord".
	Audience string
	// TTL is the lifetime of an access token. Default 15 minutes.
	TTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Claims are the verified contents of an access token.
type Claims struct {
	// UserID is the "sub" claim.
	UserID int64
	// SessionID is the "sid" claim: the refresh-token family the access
	// token was issued from, so revoking the family revokes its tokens.
	SessionID int64
	// IssuedAt is the "iat" claim, to the second.
	IssuedAt time.Time
	// ExpiresAt is the "exp" claim, to the second.
	ExpiresAt time.Time
}

// Issuer issues and verifies access tokens. It is safe for concurrent use.
type Issuer struct {
	keys     KeySet
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// accessClaims is the JWT payload of an access token.
type accessClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
	Type      string `json:"typ"`
}

// NewIssuer returns an Issuer for cfg, filling in defaults. It panics if
// cfg.Keys is nil or cfg.TTL is negative.
func NewIssuer(cfg Config) *Issuer {
	if cfg.Keys == nil {
		panic("token: Config.Keys is nil")
	}
	if cfg.TTL < 0 {
		panic("token: Config.TTL is negative")
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAudience
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{
		keys:     cfg.Keys,
		audience: cfg.Audience,
		ttl:      cfg.TTL,
		now:      cfg.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithExpirationRequired(),
			jwt.WithAudience(cfg.Audience),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(Leeway),
			jwt.WithTimeFunc(cfg.Now),
			jwt.WithStrictDecoding(),
		),
	}
}

// Issue signs an access token for a user's session with the KeySet's signing
// key and returns it with its claims.
func (i *Issuer) Issue(userID, sessionID int64) (token string, claims Claims, err error) {
	if userID <= 0 || sessionID <= 0 {
		return "", Claims{}, fmt.Errorf("%w: user %d, session %d", ErrInvalidID, userID, sessionID)
	}
	key, err := i.keys.SigningKey()
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing key: %w", err)
	}
	if len(key.Private) != ed25519.PrivateKeySize {
		return "", Claims{}, fmt.Errorf("%w: key %q", ErrNoSigningKey, key.ID)
	}
	now := i.now()
	c := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   strconv.FormatInt(userID, 10),
			Audience:  jwt.ClaimStrings{i.audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
		},
		SessionID: strconv.FormatInt(sessionID, 10),
		Type:      typeAccess,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["kid"] = key.ID
	token, err = t.SignedString(key.Private)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: sign with key %q: %w", key.ID, err)
	}
	return token, Claims{
		UserID:    userID,
		SessionID: sessionID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

// Verify checks an access token's signature and claims and returns them.
// Every rejection wraps ErrInvalidToken. Tokens longer than 2048 bytes, and
// "kid" values other than 1 to 64 ASCII letters, digits, '-' or '_', are
// rejected before the KeySet is consulted. An error from the KeySet other than
// ErrUnknownKey (the key store is down, say) does not: it is the server's
// fault, not the token's, and should not log the client out.
func (i *Issuer) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLength {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalidToken, maxTokenLength)
	}
	var c accessClaims
	var lookupErr error // a KeySet failure that is not the token's fault
	_, err := i.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		if t.Method != jwt.SigningMethodEdDSA { // also enforced by WithValidMethods
			return nil, fmt.Errorf("unexpected signing method %q", t.Method.Alg())
		}
		kid, _ := t.Header["kid"].(string)
		if !validKeyID(kid) {
			return nil, errors.New(`missing or malformed "kid" header`)
		}
		pub, err := i.keys.VerificationKey(kid)
		if err != nil {
			if !errors.Is(err, ErrUnknownKey) {
				lookupErr = err
			}
			return nil, err
		}
		if pub == nil {
			return nil, fmt.Errorf("%w %q", ErrUnknownKey, kid)
		}
		return pub, nil
	})
	if lookupErr != nil {
		return Claims{}, fmt.Errorf("token: verification key lookup: %w", lookupErr)
	}
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Type != typeAccess {
		return Claims{}, fmt.Errorf("%w: typ claim %q, want %q", ErrInvalidToken, c.Type, typeAccess)
	}
	if c.IssuedAt == nil {
		return Claims{}, fmt.Errorf("%w: missing iat claim", ErrInvalidToken)
	}
	userID, ok := parseID(c.Subject)
	if !ok {
		return Claims{}, fmt.Errorf("%w: sub claim %q is not a user id", ErrInvalidToken, c.Subject)
	}
	sessionID, ok := parseID(c.SessionID)
	if !ok {
		return Claims{}, fmt.Errorf("%w: sid claim %q is not a session id", ErrInvalidToken, c.SessionID)
	}
	return Claims{
		UserID:    userID,
		SessionID: sessionID,
		IssuedAt:  c.IssuedAt.Time,
		ExpiresAt: c.ExpiresAt.Time,
	}, nil
}

// parseID parses a positive id in canonical decimal form (no sign, no leading
// zeros), the only form Issue writes.
func parseID(s string) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 || strconv.FormatInt(v, 10) != s {
		return 0, false
	}
	return v, true
}

// validKeyID reports whether kid is plausible enough to look up: 1 to 64
// ASCII letters, digits, '-' or '_'.
func validKeyID(kid string) bool {
	if kid == "" || len(kid) > maxKeyIDLength {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
