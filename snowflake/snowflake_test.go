package snowflake

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// discordExample is the id used in Discord's own documentation of the format.
const discordExample ID = 175928847299117063

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr bool
	}{
		{in: "0", want: 0},
		{in: "1", want: 1},
		{in: "175928847299117063", want: discordExample},
		{in: "9223372036854775807", want: 1<<63 - 1},
		{in: "0000123", want: 123},
		{in: "", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-0", wantErr: true},
		{in: "+1", wantErr: true},
		{in: " 1", wantErr: true},
		{in: "1 ", wantErr: true},
		{in: "1a", wantErr: true},
		{in: "abc", wantErr: true},
		{in: "1.0", wantErr: true},
		{in: "1e3", wantErr: true},
		{in: "0x10", wantErr: true},
		{in: "١٢٣", wantErr: true}, // non-ASCII digits
		{in: "9223372036854775808", wantErr: true},
		{in: "18446744073709551615", wantErr: true},
		{in: "18446744073709551616", wantErr: true},
		{in: "99999999999999999999999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidID) {
					t.Fatalf("Parse(%q) = %d, %v; want ErrInvalidID", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		id   ID
		want string
	}{
		{0, "0"},
		{1, "1"},
		{discordExample, "175928847299117063"},
		{1<<63 - 1, "9223372036854775807"},
	}
	for _, tt := range tests {
		if got := tt.id.String(); got != tt.want {
			t.Errorf("ID(%d).String() = %q, want %q", int64(tt.id), got, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	// Discord's documentation decodes this id as 2016-04-30 11:18:25.796 UTC,
	// internal worker 1, process 0, increment 7. Our 10-bit worker id is
	// Discord's 5-bit worker and 5-bit process read together.
	id := discordExample
	if got, want := id.Time(), time.Date(2016, 4, 30, 11, 18, 25, 796e6, time.UTC); !got.Equal(want) {
		t.Errorf("Time() = %v, want %v", got, want)
	}
	if got := id.Time().Location(); got != time.UTC {
		t.Errorf("Time().Location() = %v, want UTC", got)
	}
	if got := id.Worker(); got != 1<<5 {
		t.Errorf("Worker() = %d, want %d", got, 1<<5)
	}
	if got := id.Sequence(); got != 7 {
		t.Errorf("Sequence() = %d, want 7", got)
	}
	if got := ID(0).Time(); !got.Equal(time.UnixMilli(Epoch)) {
		t.Errorf("ID(0).Time() = %v, want the epoch", got)
	}
	top := ID(MaxTimestamp<<timestampShift | MaxWorker<<workerShift | MaxSequence)
	if top != 1<<63-1 {
		t.Fatalf("layout does not fill 63 bits: %d", top)
	}
	if top.Worker() != MaxWorker || top.Sequence() != MaxSequence {
		t.Errorf("max id decodes to worker %d sequence %d", top.Worker(), top.Sequence())
	}
	if got, want := top.Time().Year(), 2084; got != want {
		t.Errorf("max id year = %d, want %d", got, want)
	}
}

func TestMarshalJSON(t *testing.T) {
	tests := []struct {
		id   ID
		want string
	}{
		{0, `"0"`},
		{discordExample, `"175928847299117063"`},
		{1<<63 - 1, `"9223372036854775807"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.id)
		if err != nil || string(b) != tt.want {
			t.Errorf("json.Marshal(%d) = %s, %v; want %s", int64(tt.id), b, err, tt.want)
		}
	}

	type message struct {
		ID        ID   `json:"id"`
		ChannelID ID   `json:"channel_id"`
		GuildID   *ID  `json:"guild_id,omitempty"`
		Mentions  []ID `json:"mentions"`
	}
	b, err := json.Marshal(message{ID: 5, ChannelID: discordExample, Mentions: []ID{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"5","channel_id":"175928847299117063","mentions":["1","2"]}`; string(b) != want {
		t.Errorf("struct encodes as %s, want %s", b, want)
	}
}

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    ID
		wantErr bool
	}{
		{in: `"175928847299117063"`, want: discordExample},
		{in: `175928847299117063`, want: discordExample},
		{in: `"0"`, want: 0},
		{in: `0`, want: 0},
		{in: `"9223372036854775807"`, want: 1<<63 - 1},
		{in: `null`, want: 42}, // unchanged
		{in: `""`, wantErr: true},
		{in: `"-1"`, wantErr: true},
		{in: `-1`, wantErr: true},
		{in: `1.5`, wantErr: true},
		{in: `1e3`, wantErr: true},
		{in: `"1e3"`, wantErr: true},
		{in: `"9223372036854775808"`, wantErr: true},
		{in: `9223372036854775808`, wantErr: true},
		{in: `"abc"`, wantErr: true},
		{in: `" 1"`, wantErr: true},
		{in: `true`, wantErr: true},
		{in: `{}`, wantErr: true},
		{in: `[]`, wantErr: true},
		{in: `"null"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id := ID(42)
			err := json.Unmarshal([]byte(tt.in), &id)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Unmarshal(%s) = %d, want an error", tt.in, id)
				}
				if id != 42 {
					t.Errorf("failed Unmarshal(%s) changed the id to %d", tt.in, id)
				}
				return
			}
			if err != nil || id != tt.want {
				t.Fatalf("Unmarshal(%s) = %d, %v; want %d", tt.in, id, err, tt.want)
			}
		})
	}

	// Called directly (not through encoding/json, which checks syntax first),
	// malformed input must still fail with ErrInvalidID.
	for _, in := range []string{``, `"`, `"12`, `12"`, `"1"2"`} {
		var id ID
		if err := id.UnmarshalJSON([]byte(in)); !errors.Is(err, ErrInvalidID) {
			t.Errorf("UnmarshalJSON(%q) = %v, want ErrInvalidID", in, err)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	type member struct {
		UserID ID            `json:"user_id"`
		Roles  []ID          `json:"roles"`
		ByID   map[ID]string `json:"by_id"`
	}
	in := member{UserID: discordExample, Roles: []ID{1, 1<<63 - 1}, ByID: map[ID]string{7: "x"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out member
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	if out.UserID != in.UserID || len(out.Roles) != 2 || out.Roles[1] != in.Roles[1] || out.ByID[7] != "x" {
		t.Errorf("round trip of %s gave %+v", b, out)
	}
}

func TestFromTime(t *testing.T) {
	epoch := time.UnixMilli(Epoch)
	tests := []struct {
		name string
		t    time.Time
		want ID
	}{
		{"epoch", epoch, 0},
		{"before epoch", epoch.Add(-time.Hour), 0},
		{"unix zero", time.Unix(0, 0), 0},
		{"one ms", epoch.Add(time.Millisecond), 1 << 22},
		{"sub-ms truncated", epoch.Add(1999 * time.Microsecond), 1 << 22},
		{"discord example", discordExample.Time(), discordExample &^ (1<<22 - 1)},
		{"far future clamped", time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), MaxTimestamp << timestampShift},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromTime(tt.t)
			if got != tt.want {
				t.Fatalf("FromTime(%v) = %d, want %d", tt.t, got, tt.want)
			}
			if got.Worker() != 0 || got.Sequence() != 0 {
				t.Errorf("FromTime(%v) has worker %d sequence %d", tt.t, got.Worker(), got.Sequence())
			}
		})
	}

	// The bound property: ids issued at or after t are >= FromTime(t), ids
	// issued before t are below it, whatever their worker and sequence.
	at := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := newFakeClock(at.Add(-time.Millisecond))
	g := NewGenerator(clk.Now)
	g.SetLease(MaxWorker, at.Add(time.Hour))
	var before ID
	for range MaxSequence + 1 {
		before = mustNext(t, g)
	}
	if before.Worker() != MaxWorker || before.Sequence() != MaxSequence {
		t.Fatalf("setup: last id before t has worker %d sequence %d", before.Worker(), before.Sequence())
	}
	if bound := FromTime(at); before >= bound {
		t.Errorf("id issued before t (%d) >= FromTime(t) (%d)", before, bound)
	}

	g2 := NewGenerator(newFakeClock(at).Now)
	g2.SetLease(0, at.Add(time.Hour))
	if after, bound := mustNext(t, g2), FromTime(at); after < bound {
		t.Errorf("id issued at t (%d) < FromTime(t) (%d)", after, bound)
	}

	// "Older than 14 days" as the bulk-delete rule asks it.
	now := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	cutoff := FromTime(now.Add(-14 * 24 * time.Hour))
	if old := FromTime(now.Add(-15 * 24 * time.Hour)); !(old < cutoff) {
		t.Errorf("15-day-old id not below the 14-day cutoff")
	}
	if young := FromTime(now.Add(-13 * 24 * time.Hour)); young < cutoff {
		t.Errorf("13-day-old id below the 14-day cutoff")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"0", "1", "175928847299117063", "9223372036854775807", "9223372036854775808", "-1", "", "1a", "00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("Parse(%q) error %v does not wrap ErrInvalidID", s, err)
			}
			return
		}
		if id < 0 {
			t.Fatalf("Parse(%q) = %d, negative", s, id)
		}
		if strings.TrimLeft(s, "0123456789") != "" {
			t.Fatalf("Parse(%q) accepted a non-digit", s)
		}
		back, err := Parse(id.String())
		if err != nil || back != id {
			t.Fatalf("Parse(String(%d)) = %d, %v", id, back, err)
		}
	})
}

func FuzzUnmarshalJSON(f *testing.F) {
	for _, s := range []string{`"1"`, `1`, `null`, `"-1"`, `1.5`, `""`, `"9223372036854775807"`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var id ID
		if err := id.UnmarshalJSON(b); err != nil {
			return
		}
		out, err := id.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back ID
		if err := back.UnmarshalJSON(out); err != nil || back != id {
			t.Fatalf("round trip of %q via %s gave %d, %v", b, out, back, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("175928847299117063"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := discordExample.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}
