package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// memKeys is an in-memory KeySet.
type memKeys struct {
	mu      sync.Mutex
	signing Key
	public  map[string]ed25519.PublicKey
	fail    error // returned by every call when set
}

func newMemKeys(t testing.TB, keys ...Key) *memKeys {
	t.Helper()
	ks := &memKeys{public: make(map[string]ed25519.PublicKey)}
	for _, k := range keys {
		ks.add(k)
	}
	if len(keys) > 0 {
		ks.signing = keys[0]
	}
	return ks
}

func (ks *memKeys) add(k Key) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.public[k.ID] = k.Public
}

func (ks *memKeys) remove(kid string) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	delete(ks.public, kid)
}

func (ks *memKeys) SigningKey() (Key, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.fail != nil {
		return Key{}, ks.fail
	}
	return ks.signing, nil
}

func (ks *memKeys) VerificationKey(kid string) (ed25519.PublicKey, error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.fail != nil {
		return nil, ks.fail
	}
	pub, ok := ks.public[kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	return pub, nil
}

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// fixedNow is the clock of most tests.
var fixedNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	key    Key
	keys   *memKeys
	issuer *Issuer
	now    time.Time
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key := mustKey(t)
	keys := newMemKeys(t, key)
	return &fixture{
		key:    key,
		keys:   keys,
		now:    fixedNow,
		issuer: NewIssuer(Config{Keys: keys, Now: func() time.Time { return fixedNow }}),
	}
}

// claimsMap is the payload of a good token at f.now, for tests to spoil.
func (f *fixture) claimsMap() map[string]any {
	return map[string]any{
		"sub": "175928847299117063",
		"sid": "175928847299117064",
		"iat": f.now.Unix(),
		"exp": f.now.Add(DefaultTTL).Unix(),
		"aud": []string{"accord"},
		"typ": "access",
	}
}

// headerMap is the header of a good token, for tests to spoil.
func (f *fixture) headerMap() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": f.key.ID}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// craft builds a JWT by hand: header and claims are JSON-encoded and sign
// receives the signing input ("header.claims").
func craft(t testing.TB, header, claims map[string]any, sign func(input string) []byte) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64JSON(t, claims)
	return input + "." + b64(sign(input))
}

func edSigner(priv ed25519.PrivateKey) func(string) []byte {
	return func(input string) []byte { return ed25519.Sign(priv, []byte(input)) }
}

func hmacSigner(secret []byte) func(string) []byte {
	return func(input string) []byte {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(input))
		return m.Sum(nil)
	}
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func rsaSigner(input string) []byte {
	h := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, rsaKey(), crypto.SHA256, h[:])
	if err != nil {
		panic(err)
	}
	return sig
}

func ecSigner(input string) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	sig, err := (&jwt.SigningMethodECDSA{Name: "ES256", Hash: crypto.SHA256, KeySize: 32, CurveBits: 256}).Sign(input, k)
	if err != nil {
		panic(err)
	}
	return sig
}

func noSig(string) []byte { return nil }

func TestIssueVerify(t *testing.T) {
	f := newFixture(t)
	tok, claims, err := f.issuer.Issue(175928847299117063, 42)
	if err != nil {
		t.Fatal(err)
	}
	want := Claims{
		UserID:    175928847299117063,
		SessionID: 42,
		IssuedAt:  fixedNow,
		ExpiresAt: fixedNow.Add(DefaultTTL),
	}
	if !claimsEqual(claims, want) {
		t.Errorf("Issue claims = %+v, want %+v", claims, want)
	}
	got, err := f.issuer.Verify(tok)
	if err != nil {
		t.Fatalf("Verify(issued token): %v", err)
	}
	if !claimsEqual(got, want) {
		t.Errorf("Verify claims = %+v, want %+v", got, want)
	}

	// The wire format other services and clients see.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	var header, payload map[string]any
	decodePart(t, parts[0], &header)
	decodePart(t, parts[1], &payload)
	if header["alg"] != "EdDSA" || header["kid"] != f.key.ID {
		t.Errorf("header = %v, want alg EdDSA and kid %q", header, f.key.ID)
	}
	wantPayload := map[string]any{
		"sub": "175928847299117063",
		"sid": "42",
		"typ": "access",
		"aud": []any{"accord"},
		"iat": float64(fixedNow.Unix()),
		"exp": float64(fixedNow.Add(DefaultTTL).Unix()),
	}
	if fmt.Sprint(payload) != fmt.Sprint(wantPayload) {
		t.Errorf("payload = %v, want %v", payload, wantPayload)
	}
}

func claimsEqual(a, b Claims) bool {
	return a.UserID == b.UserID && a.SessionID == b.SessionID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func decodePart(t *testing.T, part string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestIssueConfig(t *testing.T) {
	key := mustKey(t)
	now := fixedNow.Add(1500 * time.Millisecond) // sub-second: claims are truncated
	iss := NewIssuer(Config{Keys: newMemKeys(t, key), Audience: "other", TTL: time.Hour, Now: func() time.Time { return now }})
	tok, claims, err := iss.Issue(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !claims.IssuedAt.Equal(fixedNow.Add(time.Second)) || !claims.ExpiresAt.Equal(fixedNow.Add(time.Hour+time.Second)) {
		t.Errorf("claims times = %v .. %v", claims.IssuedAt, claims.ExpiresAt)
	}
	if _, err := iss.Verify(tok); err != nil {
		t.Errorf("Verify with the same audience: %v", err)
	}
	// A token for another audience is not ours.
	def := NewIssuer(Config{Keys: newMemKeys(t, key), Now: func() time.Time { return now }})
	if _, err := def.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify of an aud=other token by an aud=accord issuer: %v, want ErrInvalidToken", err)
	}
	// Defaults with the real clock.
	live := NewIssuer(Config{Keys: newMemKeys(t, key)})
	tok, claims, err = live.Issue(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d := claims.ExpiresAt.Sub(claims.IssuedAt); d != DefaultTTL {
		t.Errorf("default TTL = %v, want %v", d, DefaultTTL)
	}
	if _, err := live.Verify(tok); err != nil {
		t.Errorf("Verify with the real clock: %v", err)
	}
}

func TestNewIssuerPanics(t *testing.T) {
	for name, cfg := range map[string]Config{
		"nil keys":     {},
		"negative TTL": {Keys: newMemKeys(t), TTL: -time.Second},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: NewIssuer did not panic", name)
				}
			}()
			NewIssuer(cfg)
		}()
	}
}

func TestIssueErrors(t *testing.T) {
	f := newFixture(t)
	for _, ids := range [][2]int64{{0, 1}, {1, 0}, {-1, 1}, {1, -5}} {
		if _, _, err := f.issuer.Issue(ids[0], ids[1]); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Issue(%d, %d) = %v, want ErrInvalidID", ids[0], ids[1], err)
		}
	}

	outage := errors.New("database is down")
	f.keys.fail = outage
	if _, _, err := f.issuer.Issue(1, 1); !errors.Is(err, outage) {
		t.Errorf("Issue with a failing KeySet = %v, want it wrapped", err)
	}
	f.keys.fail = nil

	f.keys.signing = Key{ID: "verifyonly", Public: f.key.Public}
	if _, _, err := f.issuer.Issue(1, 1); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("Issue with a public-only key = %v, want ErrNoSigningKey", err)
	}
}

// TestCraftedTokenVerifies proves the hand-crafting helper makes tokens the
// issuer accepts, so the rejections below are caused by the one thing each
// case spoils.
func TestCraftedTokenVerifies(t *testing.T) {
	f := newFixture(t)
	tok := craft(t, f.headerMap(), f.claimsMap(), edSigner(f.key.Private))
	c, err := f.issuer.Verify(tok)
	if err != nil {
		t.Fatalf("Verify(crafted good token): %v", err)
	}
	if c.UserID != 175928847299117063 || c.SessionID != 175928847299117064 {
		t.Errorf("claims = %+v", c)
	}
	// Within the leeway on both ends.
	cl := f.claimsMap()
	cl["exp"] = f.now.Add(-Leeway + time.Second).Unix()
	cl["iat"] = f.now.Add(Leeway - time.Second).Unix()
	if _, err := f.issuer.Verify(craft(t, f.headerMap(), cl, edSigner(f.key.Private))); err != nil {
		t.Errorf("Verify within the leeway: %v", err)
	}
	// A single-string aud is as good as an array.
	cl = f.claimsMap()
	cl["aud"] = "accord"
	if _, err := f.issuer.Verify(craft(t, f.headerMap(), cl, edSigner(f.key.Private))); err != nil {
		t.Errorf("Verify with aud as a string: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	other := mustKey(t)
	good := edSigner(f.key.Private)

	// withHeader and withClaims return a good token with one field changed
	// (value nil deletes it).
	withHeader := func(k string, v any) string {
		h := f.headerMap()
		if v == nil {
			delete(h, k)
		} else {
			h[k] = v
		}
		return craft(t, h, f.claimsMap(), good)
	}
	withClaims := func(k string, v any) string {
		c := f.claimsMap()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return craft(t, f.headerMap(), c, good)
	}
	alg := func(name string, sign func(string) []byte) string {
		h := f.headerMap()
		h["alg"] = name
		return craft(t, h, f.claimsMap(), sign)
	}
	valid := craft(t, f.headerMap(), f.claimsMap(), good)
	parts := strings.Split(valid, ".")

	// The payload of a good token for user 1 spliced with the signature of a
	// token for another user.
	forged := func() string {
		c := f.claimsMap()
		c["sub"] = "1"
		return parts[0] + "." + b64JSON(t, c) + "." + parts[2]
	}
	// The last base64 character of a 64-byte signature carries two unused
	// bits; setting one re-encodes the same signature non-canonically.
	sloppySig := func() string {
		last := strings.IndexByte(b64chars, parts[2][len(parts[2])-1])
		return parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(b64chars[last|1])
	}
	flipSig := func() string {
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sig[10] ^= 0x01
		return parts[0] + "." + parts[1] + "." + b64(sig)
	}
	noneLib := func() string {
		tk := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(f.claimsMap()))
		tk.Header["kid"] = f.key.ID
		s, err := tk.SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name  string
		token string
	}{
		// Algorithms.
		{"alg none, empty signature", alg("none", noSig)},
		{"alg none, Ed25519 signature kept", alg("none", good)},
		{"alg none via the jwt library", noneLib()},
		{"alg NONE", alg("NONE", noSig)},
		{"alg missing", withHeader("alg", nil)},
		{"alg lower case eddsa", alg("eddsa", good)},
		{"HS256 random secret", alg("HS256", hmacSigner([]byte("secret")))},
		{"HS256 keyed with the public key (alg confusion)", alg("HS256", hmacSigner(f.key.Public))},
		{"HS256 keyed with the base64 public key", alg("HS256", hmacSigner([]byte(base64.StdEncoding.EncodeToString(f.key.Public))))},
		{"HS512 keyed with the public key", alg("HS512", hmacSigner(f.key.Public))},
		{"RS256", alg("RS256", rsaSigner)},
		{"ES256", alg("ES256", ecSigner)},

		// Signatures.
		{"tampered payload", forged()},
		{"tampered signature", flipSig()},
		{"signature truncated", parts[0] + "." + parts[1] + "." + parts[2][:20]},
		{"signature empty", parts[0] + "." + parts[1] + "."},
		{"signed by another key under our kid", craft(t, f.headerMap(), f.claimsMap(), edSigner(other.Private))},
		{"header swapped (kid changed after signing)", b64JSON(t, map[string]any{"alg": "EdDSA", "kid": other.ID}) + "." + parts[1] + "." + parts[2]},
		{"padded base64", parts[0] + "." + parts[1] + "=." + parts[2]},
		{"non-canonical base64 signature", sloppySig()},

		// Key ids.
		{"unknown kid", withHeader("kid", "0123456789abcdef")},
		{"kid of a key signed with it but not trusted", craft(t, map[string]any{"alg": "EdDSA", "kid": other.ID}, f.claimsMap(), edSigner(other.Private))},
		{"missing kid", withHeader("kid", nil)},
		{"empty kid", withHeader("kid", "")},
		{"numeric kid", withHeader("kid", 12345)},
		{"kid with a path", withHeader("kid", "../../etc/passwd")},
		{"kid too long", withHeader("kid", strings.Repeat("a", 65))},

		// typ.
		{"typ missing", withClaims("typ", nil)},
		{"typ refresh", withClaims("typ", "refresh")},
		{"typ empty", withClaims("typ", "")},
		{"typ Access", withClaims("typ", "Access")},
		{"typ number", withClaims("typ", 1)},

		// aud.
		{"aud missing", withClaims("aud", nil)},
		{"aud empty", withClaims("aud", "")},
		{"aud wrong", withClaims("aud", "discord")},
		{"aud wrong array", withClaims("aud", []string{"other", "accord-admin"})},
		{"aud number", withClaims("aud", 1)},

		// Times.
		{"expired", withClaims("exp", f.now.Add(-Leeway-time.Second).Unix())},
		{"expired long ago", withClaims("exp", f.now.Add(-24*time.Hour).Unix())},
		{"exp missing", withClaims("exp", nil)},
		// (jwt/v5 reads "exp":"123" as a number; harmless, since only our
		// own key can sign a payload.)
		{"exp null", withClaims("exp", json.RawMessage("null"))},
		{"iat missing", withClaims("iat", nil)},
		{"iat in the future", withClaims("iat", f.now.Add(Leeway+time.Second).Unix())},
		{"iat not a number", withClaims("iat", "soon")},

		// Subject and session.
		{"sub missing", withClaims("sub", nil)},
		{"sub non-numeric", withClaims("sub", "alice")},
		{"sub a JSON number", withClaims("sub", 175928847299117063)},
		{"sub negative", withClaims("sub", "-1")},
		{"sub zero", withClaims("sub", "0")},
		{"sub with plus sign", withClaims("sub", "+1")},
		{"sub with leading zero", withClaims("sub", "01")},
		{"sub overflows", withClaims("sub", "9223372036854775808")},
		{"sub with space", withClaims("sub", " 1")},
		{"sid missing", withClaims("sid", nil)},
		{"sid non-numeric", withClaims("sid", "x")},
		{"sid a JSON number", withClaims("sid", 5)},
		{"sid empty", withClaims("sid", "")},
		{"sid zero", withClaims("sid", "0")},

		// Garbage.
		{"empty", ""},
		{"one word", "garbage"},
		{"two parts", parts[0] + "." + parts[1]},
		{"four parts", valid + ".x"},
		{"dots", "..."},
		{"a.b.c", "a.b.c"},
		{"not base64", "%%%.%%%.%%%"},
		{"header not JSON", b64([]byte("not json")) + "." + parts[1] + "." + parts[2]},
		{"claims not JSON", craftRaw(parts[0], b64([]byte("[1,2]")), good)},
		{"claims JSON null", craftRaw(parts[0], b64([]byte("null")), good)},
		{"with Bearer scheme", "Bearer " + valid},
		{"surrounded by spaces", " " + valid + " "},
		{"oversized garbage", valid + strings.Repeat("A", maxTokenLength)},
		{"oversized but well signed", withClaims("pad", strings.Repeat("x", maxTokenLength))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := f.issuer.Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %+v, %v; want ErrInvalidToken", c, err)
			}
			if c != (Claims{}) {
				t.Errorf("rejected token returned claims %+v", c)
			}
		})
	}
}

const b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// TestVerifyKeyIDNotLookedUp checks that a malformed kid is rejected before
// it reaches the KeySet (whose lookups may hit PostgreSQL).
func TestVerifyKeyIDNotLookedUp(t *testing.T) {
	f := newFixture(t)
	rec := &recordingKeys{KeySet: f.keys}
	iss := NewIssuer(Config{Keys: rec, Now: func() time.Time { return f.now }})
	for _, kid := range []any{"", strings.Repeat("a", 65), "a b", "../x", "ключ", "a\x00", 7, nil} {
		h := f.headerMap()
		h["kid"] = kid
		tok := craft(t, h, f.claimsMap(), edSigner(f.key.Private))
		if _, err := iss.Verify(tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("kid %q: %v, want ErrInvalidToken", kid, err)
		}
	}
	if len(rec.asked) != 0 {
		t.Errorf("malformed kids reached the KeySet: %q", rec.asked)
	}
	// Well-formed ids are looked up.
	for _, kid := range []string{f.key.ID, strings.Repeat("Z", 64), "key_2024-01"} {
		h := f.headerMap()
		h["kid"] = kid
		iss.Verify(craft(t, h, f.claimsMap(), edSigner(f.key.Private)))
	}
	if len(rec.asked) != 3 {
		t.Errorf("KeySet asked for %q, want the 3 well-formed ids", rec.asked)
	}
}

type recordingKeys struct {
	KeySet
	mu    sync.Mutex
	asked []string
}

func (r *recordingKeys) VerificationKey(kid string) (ed25519.PublicKey, error) {
	r.mu.Lock()
	r.asked = append(r.asked, kid)
	r.mu.Unlock()
	return r.KeySet.VerificationKey(kid)
}

// craftRaw signs already-encoded segments.
func craftRaw(header, claims string, sign func(string) []byte) string {
	input := header + "." + claims
	return input + "." + b64(sign(input))
}

func TestVerifyExpiry(t *testing.T) {
	key := mustKey(t)
	now := fixedNow
	iss := NewIssuer(Config{Keys: newMemKeys(t, key), TTL: time.Minute, Now: func() time.Time { return now }})
	tok, claims, err := iss.Issue(1, 2)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at    time.Time
		valid bool
	}{
		{claims.IssuedAt.Add(-Leeway + time.Second), true}, // a slightly slow verifier clock
		{claims.IssuedAt.Add(-Leeway - time.Second), false},
		{claims.IssuedAt, true},
		{claims.ExpiresAt.Add(-time.Second), true},
		{claims.ExpiresAt.Add(Leeway - time.Nanosecond), true},
		{claims.ExpiresAt.Add(Leeway), false},
		{claims.ExpiresAt.Add(time.Hour), false},
	}
	for _, tt := range tests {
		now = tt.at
		_, err := iss.Verify(tok)
		if tt.valid && err != nil {
			t.Errorf("at %v: %v, want valid", tt.at, err)
		}
		if !tt.valid && !errors.Is(err, ErrInvalidToken) {
			t.Errorf("at %v: %v, want ErrInvalidToken", tt.at, err)
		}
	}
	now = claims.ExpiresAt.Add(time.Hour)
	if _, err := iss.Verify(tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("expired token error %v does not wrap jwt.ErrTokenExpired", err)
	}
}

func TestVerifyKeyRotation(t *testing.T) {
	f := newFixture(t)
	oldTok, _, err := f.issuer.Issue(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	next := mustKey(t)
	f.keys.add(next)
	f.keys.signing = next
	newTok, _, err := f.issuer.Issue(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := f.issuer.Verify(tok); err != nil {
			t.Errorf("Verify during rotation: %v", err)
		}
	}
	f.keys.remove(f.key.ID)
	if _, err := f.issuer.Verify(oldTok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify with a retired key: %v, want ErrInvalidToken", err)
	}
	if _, err := f.issuer.Verify(newTok); err != nil {
		t.Errorf("Verify with the current key: %v", err)
	}
}

func TestVerifyKeyStoreFailure(t *testing.T) {
	f := newFixture(t)
	tok, _, err := f.issuer.Issue(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	outage := errors.New("connection refused")
	f.keys.fail = outage
	_, err = f.issuer.Verify(tok)
	if !errors.Is(err, outage) {
		t.Fatalf("Verify with a failing KeySet = %v, want the KeySet error", err)
	}
	if errors.Is(err, ErrInvalidToken) {
		t.Errorf("a key store failure is reported as an invalid token: %v", err)
	}
	// Garbage is still rejected as garbage before the KeySet is asked.
	if _, err := f.issuer.Verify("garbage"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify(garbage) with a failing KeySet = %v, want ErrInvalidToken", err)
	}
}

// nilKeys returns a nil key and no error, a KeySet bug Verify must survive.
type nilKeys struct{ Key }

func (k nilKeys) SigningKey() (Key, error)                        { return k.Key, nil }
func (nilKeys) VerificationKey(string) (ed25519.PublicKey, error) { return nil, nil }

func TestVerifyNilKey(t *testing.T) {
	iss := NewIssuer(Config{Keys: nilKeys{mustKey(t)}})
	tok, _, err := iss.Issue(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Verify with a nil key = %v, want ErrInvalidToken", err)
	}
}

func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	accepted := make(map[string]bool)
	for _, ids := range [][2]int64{{1, 1}, {175928847299117063, 42}} {
		tok, _, err := fx.issuer.Issue(ids[0], ids[1])
		if err != nil {
			f.Fatal(err)
		}
		accepted[tok] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
	}
	for _, s := range []string{"", ".", "..", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "Bearer x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := fx.issuer.Verify(tok)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify(%q) error %v does not wrap ErrInvalidToken", tok, err)
			}
			return
		}
		// Only a token we issued can verify: any change to one breaks the
		// signature or its canonical encoding.
		if !accepted[tok] {
			t.Fatalf("Verify accepted a token we did not issue: %q -> %+v", tok, c)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	tok, _, err := f.issuer.Issue(175928847299117063, 175928847299117064)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.issuer.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.issuer.Issue(175928847299117063, 175928847299117064); err != nil {
			b.Fatal(err)
		}
	}
}
