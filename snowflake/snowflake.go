// Package snowflake implements Discord-compatible 64-bit ids.
//
// An id packs, from the most significant bit down: one zero sign bit, a 41-bit
// millisecond timestamp counted from Epoch (2015-01-01T00:00:00Z), a 10-bit
// worker id and a 12-bit per-millisecond sequence. Ids therefore sort by
// creation time, and clients derive timestamps from them exactly as they do for
// Discord's ids.
//
// On the wire an id is a JSON string ("175928847299117063"), as Discord sends
// it, because JavaScript numbers cannot hold 64-bit integers; when decoding, a
// JSON number is accepted as well.
package snowflake

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Epoch is the first millisecond of 2015 in Unix milliseconds, Discord's epoch.
const Epoch = 1420070400000

// Bit layout of an ID.
const (
	// TimestampBits is the width of the millisecond timestamp.
	TimestampBits = 41
	// WorkerBits is the width of the worker id.
	WorkerBits = 10
	// SequenceBits is the width of the per-millisecond sequence.
	SequenceBits = 12

	// MaxWorker is the largest worker id (1023).
	MaxWorker = 1<<WorkerBits - 1
	// MaxSequence is the largest sequence number within one millisecond (4095).
	MaxSequence = 1<<SequenceBits - 1
	// MaxTimestamp is the largest millisecond offset from Epoch an id can hold
	// (early September 2084).
	MaxTimestamp = 1<<TimestampBits - 1

	timestampShift = WorkerBits + SequenceBits
	workerShift    = SequenceBits
)

// ErrInvalidID is wrapped by every error from Parse and UnmarshalJSON.
var ErrInvalidID = errors.New("snowflake: invalid id")

// ID is a snowflake. The zero ID means "no id".
type ID int64

// Parse parses the decimal representation of an id. It accepts only ASCII
// digits (no sign, no spaces) whose value fits in an int64; leading zeros are
// allowed.
func Parse(s string) (ID, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrInvalidID)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not a decimal number", ErrInvalidID, s)
		}
		d := uint64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("%w: %q overflows int64", ErrInvalidID, s)
		}
		n = n*10 + d
	}
	return ID(n), nil
}

// FromTime returns the smallest id that a generator could issue at t: the
// timestamp bits of t with worker and sequence zero. Every id created at or
// after t compares >= FromTime(t), and every id created before t compares
// less, which makes it suitable for partition bounds, pagination cursors and
// age checks such as "older than 14 days". Times before Epoch give 0; times
// past the 41-bit range give the largest timestamp.
func FromTime(t time.Time) ID {
	ms := t.UnixMilli() - Epoch
	switch {
	case ms < 0:
		return 0
	case ms > MaxTimestamp:
		ms = MaxTimestamp
	}
	return ID(ms << timestampShift)
}

// String returns the decimal representation of id.
func (id ID) String() string {
	return strconv.FormatInt(int64(id), 10)
}

// Time returns the creation time encoded in id, in UTC, to the millisecond.
func (id ID) Time() time.Time {
	return time.UnixMilli(int64(id)>>timestampShift + Epoch).UTC()
}

// Worker returns the worker id encoded in id.
func (id ID) Worker() int {
	return int(id>>workerShift) & MaxWorker
}

// Sequence returns the per-millisecond sequence number encoded in id.
func (id ID) Sequence() int {
	return int(id) & MaxSequence
}

// MarshalJSON encodes id as a JSON string of its decimal digits.
func (id ID) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 22)
	b = append(b, '"')
	b = strconv.AppendInt(b, int64(id), 10)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts a JSON string of decimal digits or a non-negative JSON
// integer. JSON null leaves id unchanged, as encoding/json does for other types.
func (id *ID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*id = v
	return nil
}
