package rest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/token"
	"github.com/gin-gonic/gin"
)

// claimsKey is the gin context key of the caller's verified claims.
const claimsKey = "accord.claims"

// authenticate verifies the Authorization header ("Bearer <token>", "Bot
// <token>" or a bare "<token>", where the token is a JWT access token or a
// bot token) and that the token's family (its login, or the bot's current
// token) is still active. Anything else is 401.
func (s *Server) authenticate(c *gin.Context) {
	raw := token.StripScheme(c.GetHeader("Authorization"))
	if raw == "" {
		writeError(c, discord.ErrUnauthorized)
		return
	}
	claims, ok := s.verified.get(raw)
	var err error
	if !ok {
		var verified token.Claims
		verified, err = s.verify(c.Request.Context(), raw)
		if err == nil {
			claims = &verified
			s.verified.put(raw, claims)
		}
	}
	if errors.Is(err, token.ErrInvalidToken) {
		writeError(c, discord.ErrUnauthorized)
		return
	}
	if err != nil {
		s.cfg.Logger.Error("verifying access token failed", "error", err)
		writeError(c, discord.ErrUnavailable)
		return
	}
	active, ok := s.families.get(claims.SessionID)
	if !ok {
		active, err = s.cfg.Accounts.FamilyActive(c.Request.Context(), claims.SessionID, claims.UserID)
		if err != nil {
			s.cfg.Logger.Error("checking token family failed", "error", err)
			writeError(c, discord.ErrUnavailable)
			return
		}
		s.families.put(claims.SessionID, active)
	}
	if !active {
		writeError(c, discord.ErrUnauthorized)
		return
	}
	// A pointer, shared with the cache and never modified, boxes without
	// allocating.
	c.Set(claimsKey, claims)
	c.Next()
}

// botClaimsTTL is how long a verified bot token stays in the verified-token
// cache before its hash is looked up again. Revocation does not wait for
// it: the token's family is checked on every request.
const botClaimsTTL = 5 * time.Minute

// verify checks a JWT access token's signature, or looks a bot token's
// secret up, and returns the token's claims; errors for a token that is not
// valid wrap token.ErrInvalidToken.
func (s *Server) verify(ctx context.Context, raw string) (token.Claims, error) {
	botID, hash, ok := token.ParseBot(raw)
	if !ok {
		return s.cfg.Tokens.Verify(raw)
	}
	family, err := s.cfg.Applications.BotTokenFamily(ctx, botID, hash)
	if errors.Is(err, persistence.ErrNotFound) {
		return token.Claims{}, fmt.Errorf("%w: unknown bot token", token.ErrInvalidToken)
	}
	if err != nil {
		return token.Claims{}, err
	}
	now := time.Now()
	return token.Claims{UserID: botID, SessionID: family, IssuedAt: now, ExpiresAt: now.Add(botClaimsTTL)}, nil
}

// caller returns the claims authenticate stored.
func caller(c *gin.Context) token.Claims {
	v, _ := c.Get(claimsKey)
	if claims, ok := v.(*token.Claims); ok {
		return *claims
	}
	return token.Claims{}
}

// familyCache remembers, per node and for a short TTL, whether a token family
// is active, so a request does not cost a database read while a revocation
// still reaches every node within the TTL.
type familyCache struct {
	ttl time.Duration

	mu      sync.Mutex // guards entries
	entries map[int64]familyEntry
}

type familyEntry struct {
	active  bool
	expires time.Time
}

// familyCacheMax bounds the cache; past it the cache starts over.
const familyCacheMax = 100_000

func newFamilyCache(ttl time.Duration) *familyCache {
	return &familyCache{ttl: ttl, entries: make(map[int64]familyEntry)}
}

func (f *familyCache) get(id int64) (active, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[id]
	if !ok || time.Now().After(e.expires) {
		return false, false
	}
	return e.active, true
}

func (f *familyCache) put(id int64, active bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) >= familyCacheMax {
		clear(f.entries)
	}
	ttl := f.ttl
	if !active {
		// A revoked family never comes back.
		ttl = 24 * time.Hour
	}
	f.entries[id] = familyEntry{active: active, expires: time.Now().Add(ttl)}
}

// verifiedTokens remembers access tokens whose signature and claims were
// checked, until they expire: an Ed25519 verification costs ~90 µs, far more
// than the rest of an authenticated request. Revocation is not affected: the
// token family is checked on every request.
type verifiedTokens struct {
	mu sync.RWMutex             // guards m
	m  map[string]*token.Claims // the claims are never modified
}

// verifiedMax bounds the cache; past it the cache starts over.
const verifiedMax = 100_000

func (v *verifiedTokens) get(raw string) (*token.Claims, bool) {
	v.mu.RLock()
	c, ok := v.m[raw]
	v.mu.RUnlock()
	if !ok || !time.Now().Before(c.ExpiresAt) {
		return nil, false
	}
	return c, true
}

func (v *verifiedTokens) put(raw string, c *token.Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil || len(v.m) >= verifiedMax {
		v.m = make(map[string]*token.Claims)
	}
	v.m[raw] = c
}
