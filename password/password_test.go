package password

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/argon2"
)

// Reference vectors from the argon2 reference implementation's test suite
// (phc-winner-argon2): password "password", salt "somesalt". Only the cheap
// one is verified here; the 64 MiB one seeds the fuzzer.
const (
	refCheap = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	ref64MiB = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
)

// cheapHash makes a PHC string with arbitrary (possibly sub-floor) params,
// as an older deployment or another library would have stored it.
func cheapHash(password string, p Params) string {
	salt := []byte(strings.Repeat("s", int(p.SaltLength)))
	return phc{
		params: p,
		salt:   salt,
		key:    argon2.IDKey([]byte(password), salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength),
	}.String()
}

var cheap = Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestHashVerifyDefaultParams(t *testing.T) {
	h := NewHasher(DefaultParams, 0)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q lacks the PHC prefix for DefaultParams", enc)
	}
	ph, err := parsePHC(enc)
	if err != nil {
		t.Fatal(err)
	}
	if ph.params != DefaultParams {
		t.Errorf("stored params %+v, want %+v", ph.params, DefaultParams)
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", enc)
	if !ok || rehash || err != nil {
		t.Errorf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, "correct horse battery stapler", enc)
	if ok || rehash || err != nil {
		t.Errorf("Verify(wrong password) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}

	// Same password, new salt, different string.
	enc2, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if enc2 == enc {
		t.Error("two hashes of one password are identical: salt not random")
	}
}

func TestReferenceVectors(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()
	for _, enc := range []string{refCheap} {
		ok, rehash, err := h.Verify(ctx, "password", enc)
		if !ok || err != nil {
			t.Errorf("Verify(reference %q) = %v, %v", enc, ok, err)
		}
		// An 8-byte salt is shorter than ours: rehash.
		if !rehash {
			t.Errorf("reference %q with an 8-byte salt does not ask for a rehash", enc)
		}
		if ok, _, _ := h.Verify(ctx, "passwore", enc); ok {
			t.Errorf("wrong password matched reference %q", enc)
		}
	}
	// Our encoder reproduces the reference string exactly.
	salt := []byte("somesalt")
	got := phc{
		params: Params{Memory: 256, Iterations: 2, Parallelism: 1, SaltLength: 8, KeyLength: 32},
		salt:   salt,
		key:    argon2.IDKey([]byte("password"), salt, 2, 256, 1, 32),
	}.String()
	if got != refCheap {
		t.Errorf("encoded %q, want %q", got, refCheap)
	}
}

func TestInteropAlexedwards(t *testing.T) {
	h := NewHasher(DefaultParams, 2)
	ctx := context.Background()

	theirs, err := argon2id.CreateHash("pässwörd", &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32})
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(ctx, "pässwörd", theirs); !ok || err != nil {
		t.Errorf("Verify(alexedwards hash %q) = %v, %v", theirs, ok, err)
	}

	ours := cheapHash("pässwörd", cheap)
	match, err := argon2id.ComparePasswordAndHash("pässwörd", ours)
	if !match || err != nil {
		t.Errorf("alexedwards cannot verify our hash %q: %v, %v", ours, match, err)
	}
}

func TestVerify(t *testing.T) {
	h := NewHasher(minParams, 4)
	ctx := context.Background()
	with := func(f func(p *Params)) Params {
		p := cheap
		f(&p)
		return p
	}
	tests := []struct {
		name       string
		stored     string
		password   string
		wantOK     bool
		wantRehash bool
	}{
		{"right password, weak params", cheapHash("hunter2", cheap), "hunter2", true, true},
		{"wrong password", cheapHash("hunter2", cheap), "hunter3", false, false},
		{"empty password", cheapHash("", cheap), "", true, true},
		{"empty against non-empty", cheapHash("hunter2", cheap), "", false, false},
		{"case matters", cheapHash("Hunter2", cheap), "hunter2", false, false},
		{"unicode", cheapHash("パスワード🔑", cheap), "パスワード🔑", true, true},
		{"trailing space matters", cheapHash("hunter2 ", cheap), "hunter2", false, false},
		{"NUL byte is data", cheapHash("a\x00b", cheap), "a\x00c", false, false},
		{"long password", cheapHash(strings.Repeat("x", 4096), cheap), strings.Repeat("x", 4096), true, true},
		{"more lanes", cheapHash("pw", with(func(p *Params) { p.Parallelism = 4 })), "pw", true, true},
		{"64-byte key", cheapHash("pw", with(func(p *Params) { p.KeyLength = 64 })), "pw", true, true},
		{"params equal to the hasher's", cheapHash("pw", minParams), "pw", true, false},
		{"stronger than the hasher's", cheapHash("pw", Params{Memory: minParams.Memory, Iterations: 3, Parallelism: 2, SaltLength: 32, KeyLength: 32}), "pw", true, false},
		{"weaker memory only", cheapHash("pw", with(func(p *Params) { *p = minParams; p.Memory-- })), "pw", true, true},
		{"weaker iterations only", cheapHash("pw", with(func(p *Params) { *p = minParams; p.Iterations = 1; p.Memory *= 2 })), "pw", true, true},
		{"shorter salt only", cheapHash("pw", with(func(p *Params) { *p = minParams; p.SaltLength = 8 })), "pw", true, true},
		{"wrong password never needs a rehash", cheapHash("pw", with(func(p *Params) { p.Memory = 8 })), "pw2", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(ctx, tt.password, tt.stored)
			if err != nil || ok != tt.wantOK || rehash != tt.wantRehash {
				t.Errorf("Verify = %v, %v, %v; want %v, %v, nil", ok, rehash, err, tt.wantOK, tt.wantRehash)
			}
		})
	}
}

func TestNeedsRehashWhenParamsGrow(t *testing.T) {
	ctx := context.Background()
	old := NewHasher(minParams, 2)
	enc, err := old.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	grown := []Params{
		{Memory: minParams.Memory + 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 16},
		{Memory: minParams.Memory, Iterations: 3, Parallelism: 1, SaltLength: 16, KeyLength: 16},
		{Memory: minParams.Memory, Iterations: 2, Parallelism: 2, SaltLength: 16, KeyLength: 16},
		{Memory: minParams.Memory, Iterations: 2, Parallelism: 1, SaltLength: 32, KeyLength: 16},
		{Memory: minParams.Memory, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32},
	}
	for _, p := range grown {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := NewHasher(p, 1).Verify(ctx, "pw", enc)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
		})
	}
	if ok, rehash, err := old.Verify(ctx, "pw", enc); !ok || rehash || err != nil {
		t.Errorf("same hasher: Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	good := cheapHash("pw", cheap) // $argon2id$v=19$m=64,t=1,p=1$<salt>$<key>
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	join := func(p ...string) string { return strings.Join(p, "$") }
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"dollar", "$"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", join("", "argon2i", "v=19", "m=64,t=1,p=1", salt, key)},
		{"argon2d", join("", "argon2d", "v=19", "m=64,t=1,p=1", salt, key)},
		{"ARGON2ID", join("", "ARGON2ID", "v=19", "m=64,t=1,p=1", salt, key)},
		{"old version 16", join("", "argon2id", "v=16", "m=64,t=1,p=1", salt, key)},
		{"version missing", join("", "argon2id", "m=64,t=1,p=1", salt, key)},
		{"no leading dollar", join("argon2id", "v=19", "m=64,t=1,p=1", salt, key)},
		{"trailing dollar", good + "$"},
		{"extra field", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key, key)},
		{"params out of order", join("", "argon2id", "v=19", "t=1,m=64,p=1", salt, key)},
		{"params missing p", join("", "argon2id", "v=19", "m=64,t=1", salt, key)},
		{"extra param", join("", "argon2id", "v=19", "m=64,t=1,p=1,keyid=x", salt, key)},
		{"param with spaces", join("", "argon2id", "v=19", "m=64, t=1, p=1", salt, key)},
		{"m negative", join("", "argon2id", "v=19", "m=-64,t=1,p=1", salt, key)},
		{"m plus sign", join("", "argon2id", "v=19", "m=+64,t=1,p=1", salt, key)},
		{"m leading zero", join("", "argon2id", "v=19", "m=064,t=1,p=1", salt, key)},
		{"m empty", join("", "argon2id", "v=19", "m=,t=1,p=1", salt, key)},
		{"m hex", join("", "argon2id", "v=19", "m=0x40,t=1,p=1", salt, key)},
		{"m overflows uint32", join("", "argon2id", "v=19", "m=4294967296,t=1,p=1", salt, key)},
		{"m over 1 GiB", join("", "argon2id", "v=19", "m=2097152,t=1,p=1", salt, key)},
		{"m below 8 per lane", join("", "argon2id", "v=19", "m=15,t=1,p=2", salt, key)},
		{"m zero", join("", "argon2id", "v=19", "m=0,t=1,p=1", salt, key)},
		{"t zero", join("", "argon2id", "v=19", "m=64,t=0,p=1", salt, key)},
		{"t huge", join("", "argon2id", "v=19", "m=64,t=100000,p=1", salt, key)},
		{"p zero", join("", "argon2id", "v=19", "m=64,t=1,p=0", salt, key)},
		{"p over 255", join("", "argon2id", "v=19", "m=8192,t=1,p=256", salt, key)},
		{"salt empty", join("", "argon2id", "v=19", "m=64,t=1,p=1", "", key)},
		{"salt too short", join("", "argon2id", "v=19", "m=64,t=1,p=1", "c2FsdA", key)},
		{"salt padded", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt+"==", key)},
		{"salt url alphabet", join("", "argon2id", "v=19", "m=64,t=1,p=1", "c29tZXNhbHQ_c29tZXNhbHQ", key)},
		{"salt not base64", join("", "argon2id", "v=19", "m=64,t=1,p=1", "!!!!!!!!!!!!", key)},
		{"key empty", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, "")},
		{"key truncated to 8 bytes", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key[:11])},
		{"key non-canonical base64", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key[:len(key)-1]+"B")},
		{"key too long", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, strings.Repeat("A", 200))},
		{"leading space", " " + good},
		{"trailing newline", good + "\n"},
		{"newline inside the key", join("", "argon2id", "v=19", "m=64,t=1,p=1", salt, key[:10]+"\r\n"+key[10:])},
	}
	h := NewHasher(minParams, 1)
	var computations atomic.Int32
	h.kdf = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		computations.Add(1)
		return argon2.IDKey(password, salt, time, memory, threads, keyLen)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "pw", tt.enc)
			if !errors.Is(err, ErrInvalidHash) || ok || rehash {
				t.Errorf("Verify(%q) = %v, %v, %v; want ErrInvalidHash", tt.enc, ok, rehash, err)
			}
		})
	}
	if n := computations.Load(); n != 0 {
		t.Errorf("malformed hashes ran %d argon2 computations, want 0", n)
	}
	// The key's last character: the canonical one verifies.
	if ok, _, err := h.Verify(context.Background(), "pw", good); !ok || err != nil {
		t.Errorf("Verify(good) = %v, %v", ok, err)
	}
}

func TestNewHasherParams(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: NewHasher did not panic", name)
			}
		}()
		f()
	}
	with := func(f func(p *Params)) Params {
		p := DefaultParams
		f(&p)
		return p
	}
	bad := map[string]Params{
		"zero":                {},
		"memory below 19 MiB": with(func(p *Params) { p.Memory = 19*1024 - 1 }),
		"one iteration":       with(func(p *Params) { p.Iterations = 1 }),
		"no lanes":            with(func(p *Params) { p.Parallelism = 0 }),
		"8-byte salt":         with(func(p *Params) { p.SaltLength = 8 }),
		"8-byte key":          with(func(p *Params) { p.KeyLength = 8 }),
		"memory over 1 GiB":   with(func(p *Params) { p.Memory = 1<<20 + 1 }),
		"65 iterations":       with(func(p *Params) { p.Iterations = 65 }),
		"huge salt":           with(func(p *Params) { p.SaltLength = 65 }),
		"huge key":            with(func(p *Params) { p.KeyLength = 129 }),
	}
	for name, p := range bad {
		mustPanic(name, func() { NewHasher(p, 1) })
	}
	for _, p := range []Params{DefaultParams, minParams, with(func(p *Params) { p.Memory = 64 * 1024; p.Iterations = 3; p.Parallelism = 4 })} {
		if got := NewHasher(p, 1).Params(); got != p {
			t.Errorf("Params() = %+v, want %+v", got, p)
		}
	}
	if got := cap(NewHasher(DefaultParams, 0).sem); got != runtime.NumCPU() {
		t.Errorf("maxConcurrent 0 gives a cap of %d, want NumCPU %d", got, runtime.NumCPU())
	}
	if got := cap(NewHasher(DefaultParams, -3).sem); got != runtime.NumCPU() {
		t.Errorf("maxConcurrent -3 gives a cap of %d, want NumCPU %d", got, runtime.NumCPU())
	}
	if got := cap(NewHasher(DefaultParams, 5).sem); got != 5 {
		t.Errorf("maxConcurrent 5 gives a cap of %d", got)
	}
}

// gate is an instrumented kdf: each computation registers, waits for a
// release, then runs for real. It records the peak concurrency.
type gate struct {
	release   chan struct{}
	entered   chan struct{}
	cur, peak atomic.Int32
	calls     atomic.Int32
	params    chan [4]uint32 // time, memory, threads, keyLen of each call
}

func newGate() *gate {
	return &gate{release: make(chan struct{}), entered: make(chan struct{}, 100), params: make(chan [4]uint32, 100)}
}

func (g *gate) kdf(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	n := g.cur.Add(1)
	for {
		m := g.peak.Load()
		if n <= m || g.peak.CompareAndSwap(m, n) {
			break
		}
	}
	g.calls.Add(1)
	g.params <- [4]uint32{time, memory, uint32(threads), keyLen}
	g.entered <- struct{}{}
	<-g.release
	defer g.cur.Add(-1)
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// checkFor polls fn every few milliseconds until it returns nil or total
// passes.
func checkFor(t *testing.T, total time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestConcurrencyCap(t *testing.T) {
	const (
		limit   = 2
		callers = 8
	)
	h := NewHasher(minParams, limit)
	g := newGate()
	h.kdf = g.kdf
	stored := cheapHash("pw", cheap)

	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			var err error
			switch i % 3 {
			case 0:
				_, err = h.Hash(context.Background(), "pw")
			case 1:
				var ok bool
				ok, _, err = h.Verify(context.Background(), "pw", stored)
				if err == nil && !ok {
					err = errors.New("Verify did not match")
				}
			case 2:
				h.DummyVerify(context.Background(), "pw")
			}
			errs <- err
		})
	}

	// Release one computation at a time; at every point at most `limit`
	// are inside argon2, and the waiting callers fill each freed slot.
	for done := 0; done < callers; done++ {
		want := min(limit, callers-done)
		checkFor(t, 5*time.Second, func() error {
			if n := g.cur.Load(); n != int32(want) {
				return fmt.Errorf("after %d releases: %d computations running, want %d", done, n, want)
			}
			return nil
		})
		// Give a would-be third computation a chance to slip in.
		time.Sleep(5 * time.Millisecond)
		if n := g.cur.Load(); n > limit {
			t.Fatalf("%d computations running, cap is %d", n, limit)
		}
		<-g.entered
		g.release <- struct{}{}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m := g.peak.Load(); m != limit {
		t.Errorf("peak concurrency %d, want exactly %d", m, limit)
	}
	if c := g.calls.Load(); c != callers {
		t.Errorf("%d computations, want %d", c, callers)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	h := NewHasher(minParams, 1)
	g := newGate()
	h.kdf = g.kdf
	stored := cheapHash("pw", cheap)

	// Occupy the only slot.
	held := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "holder")
		held <- err
	}()
	<-g.entered

	calls := map[string]func(ctx context.Context) error{
		"Hash": func(ctx context.Context) error {
			s, err := h.Hash(ctx, "pw")
			if s != "" {
				return fmt.Errorf("Hash returned %q with an error", s)
			}
			return err
		},
		"Verify": func(ctx context.Context) error {
			ok, rehash, err := h.Verify(ctx, "pw", stored)
			if ok || rehash {
				return fmt.Errorf("Verify returned %v, %v with an error", ok, rehash)
			}
			return err
		},
		"DummyVerify": func(ctx context.Context) error {
			h.DummyVerify(ctx, "pw")
			return ctx.Err()
		},
	}
	// run calls f in a goroutine and fails the test if it does not return
	// within a few seconds (a wait that ignores its context).
	run := func(t *testing.T, f func() error) error {
		t.Helper()
		res := make(chan error, 1)
		go func() { res <- f() }()
		select {
		case err := <-res:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("still waiting for a slot after the context ended")
			return nil
		}
	}
	for name, call := range calls {
		t.Run(name+"/cancel", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(10*time.Millisecond, cancel) // once it blocks on the semaphore
			if err := run(t, func() error { return call(ctx) }); !errors.Is(err, context.Canceled) {
				t.Errorf("%s = %v, want context.Canceled", name, err)
			}
		})
		t.Run(name+"/deadline", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if err := run(t, func() error { return call(ctx) }); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s = %v, want context.DeadlineExceeded", name, err)
			}
		})
		t.Run(name+"/already canceled", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := run(t, func() error { return call(ctx) }); !errors.Is(err, context.Canceled) {
				t.Errorf("%s = %v, want context.Canceled", name, err)
			}
		})
	}
	if c := g.calls.Load(); c != 1 {
		t.Errorf("%d computations ran, want only the holder's", c)
	}
	if t.Failed() {
		return // stuck waiters would hold the slot below
	}

	// The abandoned waits leaked no slot: release the holder, and the slot
	// serves the next caller.
	g.release <- struct{}{}
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	go func() { <-g.entered; g.release <- struct{}{} }()
	if ok, _, err := h.Verify(context.Background(), "pw", stored); !ok || err != nil {
		t.Errorf("Verify after cancellations = %v, %v", ok, err)
	}
	if n := len(h.sem); n != 0 {
		t.Errorf("%d slots still held", n)
	}
}

func TestContextAlreadyCanceledWithFreeSlot(t *testing.T) {
	h := NewHasher(minParams, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 { // the select must not pick the free slot at random
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Fatalf("Hash with a canceled context = %v", err)
		}
	}
}

func TestDummyVerifyMatchesVerify(t *testing.T) {
	p := Params{Memory: minParams.Memory, Iterations: 3, Parallelism: 2, SaltLength: 24, KeyLength: 48}
	h := NewHasher(p, 1)
	g := newGate()
	h.kdf = g.kdf
	go func() {
		for range g.entered {
			g.release <- struct{}{}
		}
	}()
	defer close(g.entered)

	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	hashParams := <-g.params
	if ok, _, err := h.Verify(context.Background(), "pw", enc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v", ok, err)
	}
	verifyParams := <-g.params
	h.DummyVerify(context.Background(), "pw")
	dummyParams := <-g.params
	if g.calls.Load() != 3 {
		t.Fatalf("%d computations, want one each for Hash, Verify and DummyVerify", g.calls.Load())
	}
	if dummyParams != verifyParams || dummyParams != hashParams {
		t.Errorf("DummyVerify computed with %v, Verify with %v, Hash with %v", dummyParams, verifyParams, hashParams)
	}
	if want := [4]uint32{3, minParams.Memory, 2, 48}; dummyParams != want {
		t.Errorf("DummyVerify computed with %v, want %v", dummyParams, want)
	}
}

func FuzzParsePHC(f *testing.F) {
	for _, s := range []string{refCheap, ref64MiB, cheapHash("x", cheap), "", "$", "$argon2id$v=19$m=1,t=1,p=1$$", "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ph, err := parsePHC(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidHash) {
				t.Fatalf("parsePHC(%q) error %v does not wrap ErrInvalidHash", s, err)
			}
			return
		}
		// Anything accepted is cheap enough to verify and keys are never empty.
		if ph.params.Memory > maxMemory || ph.params.Iterations > maxIterations || ph.params.Iterations == 0 ||
			ph.params.Parallelism == 0 || len(ph.key) < minStoredKeyLength {
			t.Fatalf("parsePHC(%q) accepted params %+v", s, ph.params)
		}
		// One spelling per hash.
		if ph.String() != s {
			t.Fatalf("parsePHC(%q) re-encodes as %q", s, ph.String())
		}
	})
}

func FuzzVerify(f *testing.F) {
	for _, s := range []string{refCheap, cheapHash("x", cheap), "", "$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHRzb21lc2FsdA"} {
		f.Add("x", s)
	}
	h := NewHasher(minParams, 1)
	// Fuzz the parsing and comparison, not argon2 itself.
	h.kdf = func(password, _ []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
		k := make([]byte, keyLen)
		copy(k, password)
		return k
	}
	f.Fuzz(func(t *testing.T, password, enc string) {
		ok, rehash, err := h.Verify(context.Background(), password, enc)
		if err != nil && (ok || rehash) {
			t.Fatalf("Verify(%q, %q) = %v, %v with error %v", password, enc, ok, rehash, err)
		}
		if rehash && !ok {
			t.Fatalf("Verify(%q, %q) asks to rehash a mismatch", password, enc)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(context.Background(), "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyParallel(b *testing.B) {
	h := NewHasher(DefaultParams, 0)
	enc, err := h.Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, err := h.Verify(context.Background(), "correct horse battery staple", enc); !ok || err != nil {
				b.Error(ok, err)
				return
			}
		}
	})
}
