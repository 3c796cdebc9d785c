package password

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// b64 is the PHC string encoding of salts and keys: standard alphabet, no
// padding, canonical trailing bits.
var b64 = base64.RawStdEncoding.Strict()

// phc is a decoded argon2id PHC string. params.SaltLength and
// params.KeyLength equal len(salt) and len(key).
type phc struct {
	params    Params
	salt, key []byte
}

// String encodes ph as $argon2id$v=19$m=…,t=…,p=…$salt$key.
func (ph phc) String() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, ph.params.Memory, ph.params.Iterations, ph.params.Parallelism,
		b64.EncodeToString(ph.salt), b64.EncodeToString(ph.key))
}

// parsePHC decodes an argon2id PHC string with parameters in the order m, t,
// p and bounds that make verification safe to run.
func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return phc{}, fmt.Errorf("%w: not a PHC string", ErrInvalidHash)
	}
	if parts[1] != "argon2id" {
		return phc{}, fmt.Errorf("%w: algorithm %q, want argon2id", ErrInvalidHash, parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return phc{}, fmt.Errorf("%w: version %q, want v=%d", ErrInvalidHash, parts[2], argon2.Version)
	}

	var ph phc
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return phc{}, fmt.Errorf("%w: parameters %q, want m,t,p", ErrInvalidHash, parts[3])
	}
	m, err := paramValue(fields[0], "m=", 1, maxMemory)
	if err != nil {
		return phc{}, err
	}
	t, err := paramValue(fields[1], "t=", 1, maxIterations)
	if err != nil {
		return phc{}, err
	}
	p, err := paramValue(fields[2], "p=", 1, 255)
	if err != nil {
		return phc{}, err
	}
	if m < 8*p {
		return phc{}, fmt.Errorf("%w: memory %d KiB below 8 KiB per lane", ErrInvalidHash, m)
	}

	// The decoder skips CR and LF; a hash has none.
	if strings.ContainsAny(parts[4]+parts[5], "\r\n") {
		return phc{}, fmt.Errorf("%w: line break in salt or key", ErrInvalidHash)
	}
	if ph.salt, err = b64.DecodeString(parts[4]); err != nil {
		return phc{}, fmt.Errorf("%w: salt: %v", ErrInvalidHash, err)
	}
	if ph.key, err = b64.DecodeString(parts[5]); err != nil {
		return phc{}, fmt.Errorf("%w: key: %v", ErrInvalidHash, err)
	}
	if n := len(ph.salt); n < minStoredSaltLength || n > maxSaltLength {
		return phc{}, fmt.Errorf("%w: salt of %d bytes outside %d..%d", ErrInvalidHash, n, minStoredSaltLength, maxSaltLength)
	}
	if n := len(ph.key); n < minStoredKeyLength || n > maxKeyLength {
		return phc{}, fmt.Errorf("%w: key of %d bytes outside %d..%d", ErrInvalidHash, n, minStoredKeyLength, maxKeyLength)
	}
	ph.params = Params{
		Memory:      m,
		Iterations:  t,
		Parallelism: uint8(p),
		SaltLength:  uint32(len(ph.salt)),
		KeyLength:   uint32(len(ph.key)),
	}
	return ph, nil
}

// paramValue parses "name=decimal" with the value in lo..hi.
func paramValue(field, prefix string, lo, hi uint32) (uint32, error) {
	digits, ok := strings.CutPrefix(field, prefix)
	if !ok {
		return 0, fmt.Errorf("%w: parameter %q, want %s…", ErrInvalidHash, field, prefix)
	}
	// ParseUint accepts no sign; reject leading zeros so each hash has one
	// spelling.
	v, err := strconv.ParseUint(digits, 10, 32)
	if err != nil || (len(digits) > 1 && digits[0] == '0') {
		return 0, fmt.Errorf("%w: parameter %q is not a decimal number", ErrInvalidHash, field)
	}
	if uint32(v) < lo || uint32(v) > hi {
		return 0, fmt.Errorf("%w: parameter %q outside %d..%d", ErrInvalidHash, field, lo, hi)
	}
	return uint32(v), nil
}
