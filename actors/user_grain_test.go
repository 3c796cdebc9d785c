package actors

import (
	"context"
	"errors"
	"fmt"
	"github.com/accordchat/accord/snowflake"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accordchat/accord/cluster"
	"github.com/accordchat/accord/password"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
)

// observedStore is the real store, counting loads per user and able to slow
// one user down: the tests watch activations and timeouts through it.
type observedStore struct {
	*persistence.Store
	mu    sync.Mutex
	loads map[int64]int
	slow  map[int64]time.Duration
}

func (o *observedStore) UserByID(ctx context.Context, id int64) (persistence.User, error) {
	o.mu.Lock()
	o.loads[id]++
	delay := o.slow[id]
	o.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	return o.Store.UserByID(ctx, id)
}

func (o *observedStore) loadsOf(id int64) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.loads[id]
}

func (o *observedStore) setSlow(id int64, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.slow[id] = d
}

// quietLogger keeps test output readable: warnings and errors only, or
// everything with ACTORS_DEBUG set.
func quietLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ACTORS_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

const testIdle = time.Second

type fixture struct {
	sys    *System
	store  *observedStore
	hasher *password.Hasher
	nextID atomic.Int64
}

func (f *fixture) createUser(t *testing.T, name, pw string) persistence.User {
	t.Helper()
	hash, err := f.hasher.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	id := f.nextID.Add(1)
	u, err := f.store.CreateUser(context.Background(), persistence.NewUser{
		ID: id, Username: name, Email: fmt.Sprintf("%s-%d@example.test", name, id), PasswordHash: hash,
	})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestUserGrain runs every user-grain scenario against one real PostgreSQL
// database and one single-node cluster on loopback (a process hosts one
// System at a time, and starting and stopping one takes seconds).
func TestUserGrain(t *testing.T) {
	ctx := context.Background()
	st, err := persistence.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	f := &fixture{
		store:  &observedStore{Store: st, loads: map[int64]int{}, slow: map[int64]time.Duration{}},
		hasher: password.NewHasher(password.DefaultParams, 0),
	}
	f.nextID.Store(1 << 40)

	logger := quietLogger()
	provider := cluster.New(cluster.Config{GossipAddr: "127.0.0.1:0", Logger: logger})
	started := time.Now()
	sys, err := Start(ctx, Config{
		RemoteAddr:      "127.0.0.1:0",
		Provider:        provider,
		Users:           f.store,
		Passwords:       f.hasher,
		Guilds:          st,
		Channels:        st,
		Writer:          testWriter(t, st),
		IDs:             testIDs(),
		Logger:          logger,
		RequestTimeout:  3 * time.Second,
		UserIdleTimeout: testIdle,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("started in %v", time.Since(started))
	f.sys = sys
	t.Cleanup(func() {
		start := time.Now()
		sys.Stop()
		sys.Stop() // idempotent
		t.Logf("stopped in %v", time.Since(start))
		if _, err := sys.Users().Get(context.Background(), 1); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Get after Stop = %v, want ErrUnavailable", err)
		}
	})

	select {
	case <-provider.Ready():
	default:
		t.Fatal("Start returned before the provider published a topology with this node")
	}
	if m := provider.Members(); len(m) != 1 || m[0].ID != sys.ID() || m[0].RemoteAddr != sys.Address() {
		t.Fatalf("provider members = %+v, want this node at %s", m, sys.Address())
	}
	if _, err := Start(ctx, Config{Provider: cluster.New(cluster.Config{}), Users: f.store, Passwords: f.hasher, Guilds: st, IDs: testIDs(), Channels: st, Writer: testWriter(t, st)}); !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Start = %v, want ErrAlreadyRunning", err)
	}

	t.Run("GetCreatedUser", func(t *testing.T) { testGet(t, f) })
	t.Run("GetUnknownUser", func(t *testing.T) { testGetUnknown(t, f) })
	t.Run("UpdateProfile", func(t *testing.T) { testUpdateProfile(t, f) })
	t.Run("UsernameTaken", func(t *testing.T) { testUsernameTaken(t, f) })
	t.Run("WrongPassword", func(t *testing.T) { testWrongPassword(t, f) })
	t.Run("ChangePassword", func(t *testing.T) { testChangePassword(t, f) })
	t.Run("DeadlineIsUnavailable", func(t *testing.T) { testDeadline(t, f) })
	t.Run("PassivationReloads", func(t *testing.T) { testPassivation(t, f) })
	t.Run("GrainRequests", func(t *testing.T) { testRequests(t, f) })
	t.Run("GuildFencing", func(t *testing.T) { testGuildFencing(t, f) })
	t.Run("ForwardedSends", func(t *testing.T) { testForwardedSends(t, f) })
}

func testGet(t *testing.T, f *fixture) {
	want := f.createUser(t, "alice", "correct horse")
	got, err := f.sys.Users().Get(ctxT(t), want.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != want.ID || got.Username != "alice" || got.Discriminator != want.Discriminator ||
		got.Email != want.Email || got.GlobalName != nil || got.Avatar != nil || got.Bot || got.Verified {
		t.Fatalf("Get = %+v, want %+v", got, want)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	if got.PasswordHash != "" {
		t.Errorf("Get leaked the password hash")
	}
	if n := f.store.loadsOf(want.ID); n != 1 {
		t.Errorf("store loads = %d, want 1", n)
	}
	// A second read is served from the grain's memory.
	if _, err := f.sys.Users().Get(ctxT(t), want.ID); err != nil {
		t.Fatal(err)
	}
	if n := f.store.loadsOf(want.ID); n != 1 {
		t.Errorf("after a second Get, store loads = %d, want 1", n)
	}
}

func testGetUnknown(t *testing.T, f *fixture) {
	unknown := f.nextID.Add(1)
	for _, id := range []int64{unknown, 0, -5} {
		_, err := f.sys.Users().Get(ctxT(t), id)
		if !errors.Is(err, ErrUnknownUser) || !errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("Get(%d) = %v, want ErrUnknownUser", id, err)
		}
		name := "x"
		if _, err := f.sys.Users().Update(ctxT(t), id, UserUpdate{Username: &name}); !errors.Is(err, ErrUnknownUser) {
			t.Errorf("Update(%d) = %v, want ErrUnknownUser", id, err)
		}
	}
	if n := f.store.loadsOf(unknown); n != 2 {
		t.Errorf("unknown id: store loads = %d, want 2 (one per request: the grain stops when there is no user)", n)
	}
}

func testUpdateProfile(t *testing.T, f *fixture) {
	u := f.createUser(t, "bob", "pw-bob-1")
	users := f.sys.Users()
	if _, err := users.Get(ctxT(t), u.ID); err != nil { // activate first: the update must not be lost in memory
		t.Fatal(err)
	}
	name, display := "robert", "Bobby Tables"
	dp := &display
	got, err := users.Update(ctxT(t), u.ID, UserUpdate{Username: &name, GlobalName: &dp})
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "robert" || got.GlobalName == nil || *got.GlobalName != display {
		t.Fatalf("Update returned %+v", got)
	}
	if got.Discriminator != u.Discriminator {
		t.Errorf("discriminator changed from %d to %d although it was free", u.Discriminator, got.Discriminator)
	}
	row, err := f.store.Store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.Username != "robert" || row.GlobalName == nil || *row.GlobalName != display {
		t.Fatalf("database has %q/%v after Update", row.Username, row.GlobalName)
	}
	if row.PasswordHash != u.PasswordHash {
		t.Errorf("a profile update changed the password hash")
	}
	again, err := users.Get(ctxT(t), u.ID)
	if err != nil || again.Username != "robert" || again.GlobalName == nil || *again.GlobalName != display {
		t.Fatalf("Get after Update = %+v, %v", again, err)
	}

	var none *string
	got, err = users.Update(ctxT(t), u.ID, UserUpdate{GlobalName: &none})
	if err != nil || got.GlobalName != nil {
		t.Fatalf("clear global name = %+v, %v", got, err)
	}
	if row, _ := f.store.Store.UserByID(context.Background(), u.ID); row.GlobalName != nil {
		t.Fatalf("database still has global name %q", *row.GlobalName)
	}

	empty := ""
	if _, err := users.Update(ctxT(t), u.ID, UserUpdate{Username: &empty}); !errors.Is(err, ErrInvalidUpdate) {
		t.Fatalf("empty username = %v, want ErrInvalidUpdate", err)
	}
}

func testUsernameTaken(t *testing.T, f *fixture) {
	// Fill every discriminator of "popular".
	_, err := f.store.Pool().Exec(context.Background(), `
		INSERT INTO users (id, username, discriminator, email, password_hash)
		SELECT 900000 + d, 'popular', d, 'popular' || d || '@example.test', 'x'
		FROM generate_series(1, 9999) AS d`)
	if err != nil {
		t.Fatal(err)
	}
	u := f.createUser(t, "carol", "pw-carol")
	name := "Popular"
	_, err = f.sys.Users().Update(ctxT(t), u.ID, UserUpdate{Username: &name})
	if !errors.Is(err, ErrUsernameTaken) || !errors.Is(err, persistence.ErrUsernameTaken) {
		t.Fatalf("Update to a full username = %v, want ErrUsernameTaken", err)
	}
	got, err := f.sys.Users().Get(ctxT(t), u.ID)
	if err != nil || got.Username != "carol" {
		t.Fatalf("after a refused rename, Get = %+v, %v", got, err)
	}
}

func tokenFamilies(t *testing.T, f *fixture, userID int64, ids ...int64) {
	t.Helper()
	for _, id := range ids {
		err := f.store.CreateFamily(context.Background(), id, userID, []byte(fmt.Sprintf("refresh-%d", id)), time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
	}
}

func revoked(t *testing.T, f *fixture, family int64) bool {
	t.Helper()
	var r bool
	if err := f.store.Pool().QueryRow(context.Background(),
		`SELECT revoked_at IS NOT NULL FROM token_families WHERE id = $1`, family).Scan(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func testWrongPassword(t *testing.T, f *fixture) {
	u := f.createUser(t, "dave", "right-password")
	fam := f.nextID.Add(1)
	tokenFamilies(t, f, u.ID, fam)
	newPw, wrong := "new-password", "not-it"
	for _, upd := range []UserUpdate{
		{NewPassword: &newPw, CurrentPassword: &wrong},
		{NewPassword: &newPw}, // no current password at all
	} {
		_, err := f.sys.Users().Update(ctxT(t), u.ID, upd)
		if !errors.Is(err, ErrWrongPassword) {
			t.Fatalf("Update with current=%v = %v, want ErrWrongPassword", upd.CurrentPassword, err)
		}
	}
	row, err := f.store.Store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.PasswordHash != u.PasswordHash {
		t.Fatal("a refused password change wrote a new hash")
	}
	if revoked(t, f, fam) {
		t.Fatal("a refused password change revoked a login")
	}
}

func testChangePassword(t *testing.T, f *fixture) {
	u := f.createUser(t, "erin", "old-password")
	keep, other := f.nextID.Add(1), f.nextID.Add(1)
	tokenFamilies(t, f, u.ID, keep, other)
	cur, next := "old-password", "new-password"
	got, err := f.sys.Users().Update(ctxT(t), u.ID, UserUpdate{CurrentPassword: &cur, NewPassword: &next, KeepFamily: keep})
	if err != nil {
		t.Fatal(err)
	}
	if got.PasswordHash != "" || got.Username != "erin" {
		t.Fatalf("Update returned %+v", got)
	}
	row, err := f.store.Store.UserByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if row.PasswordHash == u.PasswordHash {
		t.Fatal("password hash unchanged")
	}
	if ok, _, err := f.hasher.Verify(context.Background(), next, row.PasswordHash); err != nil || !ok {
		t.Fatalf("new password does not verify against the stored hash: %v %v", ok, err)
	}
	if ok, _, _ := f.hasher.Verify(context.Background(), cur, row.PasswordHash); ok {
		t.Fatal("old password still verifies")
	}
	if revoked(t, f, keep) {
		t.Error("the kept login was revoked")
	}
	if !revoked(t, f, other) {
		t.Error("another login survived the password change")
	}
	// The old password no longer works as current_password.
	again := "third-password"
	if _, err := f.sys.Users().Update(ctxT(t), u.ID, UserUpdate{CurrentPassword: &cur, NewPassword: &again}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("change with the old password = %v, want ErrWrongPassword", err)
	}
}

func testDeadline(t *testing.T, f *fixture) {
	u := f.createUser(t, "frank", "pw-frank")
	f.store.setSlow(u.ID, 1500*time.Millisecond)
	defer f.store.setSlow(u.ID, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.sys.Users().Get(ctx, u.ID)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get past its deadline = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Get returned %v after a 300ms deadline", d)
	}

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := f.sys.Users().Get(canceled, u.ID); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Get with a canceled context = %v", err)
	}
	// Once the store answers again the grain serves normally.
	f.store.setSlow(u.ID, 0)
	if got, err := f.sys.Users().Get(ctxT(t), u.ID); err != nil || got.Username != "frank" {
		t.Fatalf("Get after the slow load = %+v, %v", got, err)
	}
}

func testPassivation(t *testing.T, f *fixture) {
	u := f.createUser(t, "grace", "pw-grace")
	users := f.sys.Users()
	if _, err := users.Get(ctxT(t), u.ID); err != nil {
		t.Fatal(err)
	}
	loads := f.store.loadsOf(u.ID)

	// Change the row behind the grain's back: the active grain keeps
	// answering from memory.
	behind, p := "Changed Behind", new(string)
	*p = behind
	if _, err := f.store.Store.UpdateUser(context.Background(), u.ID, persistence.UserUpdate{GlobalName: &p}); err != nil {
		t.Fatal(err)
	}
	got, err := users.Get(ctxT(t), u.ID)
	if err != nil || got.GlobalName != nil {
		t.Fatalf("active grain: Get = %+v, %v; want the in-memory state", got, err)
	}

	// Idle past the timeout: every grain passivates.
	kind := f.sys.cluster.GetClusterKind("User")
	deadline := time.Now().Add(testIdle + 5*time.Second)
	for kind.Count() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d user grains still active %v after the idle timeout", kind.Count(), testIdle)
		}
		time.Sleep(50 * time.Millisecond)
	}

	got, err = users.Get(ctxT(t), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.GlobalName == nil || *got.GlobalName != behind {
		t.Fatalf("reactivated grain: global name = %v, want %q", got.GlobalName, behind)
	}
	if n := f.store.loadsOf(u.ID); n != loads+1 {
		t.Fatalf("store loads = %d, want %d (one reload on reactivation)", n, loads+1)
	}
}

// TestRestartAndStoreFailure starts a second System in the same process after
// the first stopped, and checks that a failing store surfaces as
// ErrUnavailable.
func TestRestartAndStoreFailure(t *testing.T) {
	ctx := context.Background()
	st, err := persistence.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	logger := quietLogger()
	sys, err := Start(ctx, Config{
		Provider:  cluster.New(cluster.Config{GossipAddr: "127.0.0.1:0", Logger: logger}),
		Users:     st,
		Passwords: password.NewHasher(password.DefaultParams, 0),
		Guilds:    st,
		Channels:  st,
		Writer:    testWriter(t, st),
		IDs:       testIDs(),
		Logger:    logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)

	if _, err := sys.Users().Get(ctxT(t), 12345); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Get(unknown) = %v, want ErrUnknownUser", err)
	}
	st.Close()
	_, err = sys.Users().Get(ctxT(t), 12346)
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnknownUser) {
		t.Fatalf("Get with the store closed = %v, want ErrUnavailable", err)
	}
}

// testIDs is a snowflake generator with a day-long lease on worker 1.
func testIDs() *snowflake.Generator {
	g := snowflake.NewGenerator(nil)
	g.SetLease(1, time.Now().Add(24*time.Hour))
	return g
}

// testWriter runs a message writer on st for the test's duration.
func testWriter(t *testing.T, st *persistence.Store) *persistence.MessageWriter {
	w := persistence.NewMessageWriter(st, persistence.WriterConfig{Logger: quietLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}
