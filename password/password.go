// Package password hashes and verifies passwords with argon2id, bounding how
// many hashes run at once.
//
// Hashes are PHC strings, the format of the reference implementation, of
// libsodium and of most other libraries:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard base64. Each argon2id computation
// holds Params.Memory KiB (19 MiB by default) for tens of milliseconds, so a
// burst of logins could exhaust memory; a Hasher admits at most maxConcurrent
// computations and makes the rest wait, for as long as their context allows.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// ErrInvalidHash is wrapped by every error for a stored hash that is not a
// well-formed argon2id PHC string with sane parameters.
var ErrInvalidHash = errors.New("password: invalid argon2id hash")

// Params are argon2id cost parameters.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Iterations is the number of passes over the memory.
	Iterations uint32
	// Parallelism is the number of lanes (and threads).
	Parallelism uint8
	// SaltLength is the length of the random salt in bytes.
	SaltLength uint32
	// KeyLength is the length of the derived key in bytes.
	KeyLength uint32
}

// DefaultParams follow OWASP's minimum for argon2id: 19 MiB, 2 iterations,
// 1 lane, a 16-byte salt and a 32-byte key.
var DefaultParams = Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// minParams is the floor NewHasher enforces; it is DefaultParams with the
// shortest key we accept.
var minParams = Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 16}

// Upper bounds for NewHasher and for decoding stored hashes, so that a
// corrupt row cannot make a login allocate gigabytes or run for minutes.
const (
	maxMemory     = 1 << 20 // KiB: 1 GiB
	maxIterations = 64
	maxSaltLength = 64
	maxKeyLength  = 128
	// Lower bounds for stored hashes, which may predate the current floor
	// (they verify, and report needsRehash). A key of at least 16 bytes
	// keeps an empty or truncated key from matching everything.
	minStoredSaltLength = 8
	minStoredKeyLength  = 16
)

// Hasher hashes and verifies passwords. It is safe for concurrent use.
type Hasher struct {
	params Params
	// sem holds one token per argon2id computation in progress.
	sem chan struct{}
	// kdf is argon2.IDKey; tests replace it to observe the computations.
	kdf func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
	// dummySalt and dummyKey give DummyVerify a hash in h.params to compare
	// against.
	dummySalt, dummyKey []byte
}

// NewHasher returns a Hasher that hashes with p and runs at most
// maxConcurrent argon2id computations at once (runtime.NumCPU() when
// maxConcurrent <= 0). Peak memory is about maxConcurrent × p.Memory KiB.
//
// NewHasher panics if p is below the floor of m=19 MiB, t=2, p=1, a 16-byte
// salt and a 16-byte key, or above 1 GiB of memory, 64 iterations, a 64-byte
// salt or a 128-byte key. Parameters are configuration, and weakening them by
// mistake should stop the server rather than go unnoticed.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := checkParams(p); err != nil {
		panic(err.Error())
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	h := &Hasher{
		params:    p,
		sem:       make(chan struct{}, maxConcurrent),
		kdf:       argon2.IDKey,
		dummySalt: make([]byte, p.SaltLength),
		dummyKey:  make([]byte, p.KeyLength),
	}
	// Random so the dummy comparison is never a match; not secret.
	_, _ = rand.Read(h.dummyKey)
	return h
}

func checkParams(p Params) error {
	switch {
	case p.Memory < minParams.Memory || p.Memory > maxMemory:
		return fmt.Errorf("password: memory %d KiB outside %d..%d", p.Memory, minParams.Memory, maxMemory)
	case p.Iterations < minParams.Iterations || p.Iterations > maxIterations:
		return fmt.Errorf("password: iterations %d outside %d..%d", p.Iterations, minParams.Iterations, maxIterations)
	case p.Parallelism < minParams.Parallelism:
		return fmt.Errorf("password: parallelism %d below %d", p.Parallelism, minParams.Parallelism)
	case p.SaltLength < minParams.SaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("password: salt length %d outside %d..%d", p.SaltLength, minParams.SaltLength, maxSaltLength)
	case p.KeyLength < minParams.KeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("password: key length %d outside %d..%d", p.KeyLength, minParams.KeyLength, maxKeyLength)
	}
	return nil
}

// Params returns the parameters h hashes with.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of password under a fresh random salt. It
// returns ctx.Err() if ctx ends while waiting for a computation slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLength)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	ph := phc{params: h.params, salt: salt}
	var err error
	ph.key, err = h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return ph.String(), nil
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time. needsRehash is true when the password matches and encoded
// was made with weaker parameters than h's (less memory, fewer iterations or
// lanes, a shorter salt or key): the caller should then store a new Hash.
//
// A malformed encoded gives an error wrapping ErrInvalidHash; ctx ending while
// waiting for a computation slot gives ctx.Err(). A computation that has
// started runs to completion.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	ph, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	key, err := h.derive(ctx, password, ph.salt, ph.params)
	if err != nil {
		return false, false, err
	}
	if subtle.ConstantTimeCompare(key, ph.key) != 1 {
		return false, false, nil
	}
	return true, weaker(ph.params, h.params), nil
}

// DummyVerify does the work of a Verify of a hash made by h (one argon2id
// computation with h's parameters, waiting for a slot like any other) and
// discards the result. Call it when a login names no user, so that the
// response time does not reveal whether the account exists.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	key, err := h.derive(ctx, password, h.dummySalt, h.params)
	if err != nil {
		return
	}
	subtle.ConstantTimeCompare(key, h.dummyKey)
}

// derive runs one argon2id computation once a slot is free.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	return h.kdf([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength), nil
}

// weaker reports whether stored costs less than want in any dimension.
func weaker(stored, want Params) bool {
	return stored.Memory < want.Memory ||
		stored.Iterations < want.Iterations ||
		stored.Parallelism < want.Parallelism ||
		stored.SaltLength < want.SaltLength ||
		stored.KeyLength < want.KeyLength
}
