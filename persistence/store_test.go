package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
	"github.com/accordchat/accord/token"
)

func TestMigrateConcurrently(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := persistence.Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

func TestCreateUserDiscriminators(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	seen := map[int16]bool{}
	for i := range 20 {
		u, err := s.CreateUser(ctx, persistence.NewUser{ID: int64(100 + i), Username: "Ada", Email: fmt.Sprintf("ada%d@example.com", i), PasswordHash: "h"})
		if err != nil {
			t.Fatal(err)
		}
		if u.Discriminator < 1 || u.Discriminator > 9999 || seen[u.Discriminator] {
			t.Fatalf("discriminator %d out of range or repeated", u.Discriminator)
		}
		seen[u.Discriminator] = true
	}
	// Email uniqueness ignores case.
	_, err := s.CreateUser(ctx, persistence.NewUser{ID: 999, Username: "Bob", Email: "ADA3@Example.com", PasswordHash: "h"})
	if !errors.Is(err, persistence.ErrEmailTaken) {
		t.Fatalf("duplicate email: got %v, want ErrEmailTaken", err)
	}
	if _, err := s.UserByID(ctx, 999); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("failed insert left a row: %v", err)
	}
	users, err := s.UsersByUsername(ctx, "ada", 50)
	if err != nil || len(users) != 20 {
		t.Fatalf("UsersByUsername: %d users, %v", len(users), err)
	}
	u, err := s.UserByTag(ctx, "ADA", users[0].Discriminator)
	if err != nil || u.ID != users[0].ID {
		t.Fatalf("UserByTag: %v %v", u.ID, err)
	}
}

func TestUsernameExhausted(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	// Fill every discriminator of one name directly, then ask for one more.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO users (id, username, discriminator, email, password_hash)
		SELECT d, 'full', d, 'f' || d || '@x.io', 'h' FROM generate_series(1, 9999) d`); err != nil {
		t.Fatal(err)
	}
	_, err := s.CreateUser(ctx, persistence.NewUser{ID: 20000, Username: "Full", Email: "new@x.io", PasswordHash: "h"})
	if !errors.Is(err, persistence.ErrUsernameTaken) {
		t.Fatalf("got %v, want ErrUsernameTaken", err)
	}
}

func TestUpdateUser(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, _ := s.CreateUser(ctx, persistence.NewUser{ID: 1, Username: "alpha", Email: "a@x.io", PasswordHash: "h1"})
	b, _ := s.CreateUser(ctx, persistence.NewUser{ID: 2, Username: "beta", Email: "b@x.io", PasswordHash: "h2"})
	// Renaming b to alpha must not collide with a's tag.
	if _, err := s.Pool().Exec(ctx, `UPDATE users SET discriminator = $1 WHERE id = 2`, a.Discriminator); err != nil {
		t.Fatal(err)
	}
	name := "Alpha"
	got, err := s.UpdateUser(ctx, b.ID, persistence.UserUpdate{Username: &name})
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "Alpha" || got.Discriminator == a.Discriminator {
		t.Fatalf("rename: %+v (a has %d)", got, a.Discriminator)
	}
	// A password change revokes every family but the kept one.
	for _, f := range []int64{10, 11, 12} {
		if err := s.CreateFamily(ctx, f, a.ID, []byte{byte(f)}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	hash := "h1-new"
	if _, err := s.UpdateUser(ctx, a.ID, persistence.UserUpdate{PasswordHash: &hash, KeepFamily: 11}); err != nil {
		t.Fatal(err)
	}
	for f, want := range map[int64]bool{10: false, 11: true, 12: false} {
		if active, err := s.FamilyActive(ctx, f, a.ID); err != nil || active != want {
			t.Fatalf("family %d active=%v (%v), want %v", f, active, err, want)
		}
	}
	if _, err := s.UpdateUser(ctx, 404, persistence.UserUpdate{Username: &name}); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, persistence.NewUser{ID: 1, Username: "alpha", Email: "a@x.io", PasswordHash: "h"})
	exp := time.Now().Add(time.Hour)
	if err := s.CreateFamily(ctx, 50, u.ID, []byte("r1"), exp); err != nil {
		t.Fatal(err)
	}
	uid, fam, err := s.RotateRefresh(ctx, []byte("r1"), []byte("r2"), exp)
	if err != nil || uid != u.ID || fam != 50 {
		t.Fatalf("rotate: %d %d %v", uid, fam, err)
	}
	if _, _, err := s.RotateRefresh(ctx, []byte("r1"), []byte("r3"), exp); !errors.Is(err, persistence.ErrRefreshReused) {
		t.Fatalf("reuse: %v", err)
	}
	// The reuse revoked the family: the fresh token is dead too.
	if _, _, err := s.RotateRefresh(ctx, []byte("r2"), []byte("r4"), exp); !errors.Is(err, persistence.ErrRefreshInvalid) {
		t.Fatalf("after reuse: %v", err)
	}
	if active, _ := s.FamilyActive(ctx, 50, u.ID); active {
		t.Fatal("family still active after reuse")
	}
	if _, _, err := s.RotateRefresh(ctx, []byte("nope"), []byte("r5"), exp); !errors.Is(err, persistence.ErrRefreshInvalid) {
		t.Fatalf("unknown token: %v", err)
	}
	// Expired tokens are refused.
	if err := s.CreateFamily(ctx, 51, u.ID, []byte("old"), time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateRefresh(ctx, []byte("old"), []byte("r6"), exp); !errors.Is(err, persistence.ErrRefreshInvalid) {
		t.Fatalf("expired token: %v", err)
	}
}

func TestConcurrentRefreshOneWins(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, persistence.NewUser{ID: 1, Username: "alpha", Email: "a@x.io", PasswordHash: "h"})
	exp := time.Now().Add(time.Hour)
	if err := s.CreateFamily(ctx, 60, u.ID, []byte("r"), exp); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, _, err := s.RotateRefresh(ctx, []byte("r"), []byte{byte(i)}, exp)
			results <- err
		})
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent rotations of one token succeeded, want 1", ok)
	}
}

func TestKeyringSharedAndRotated(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	open := func() *persistence.Store {
		s, err := persistence.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	}
	s1, s2 := open(), open()
	k1, err := persistence.NewKeyring(ctx, s1, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := persistence.NewKeyring(ctx, s2, slog.Default())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := k1.SigningKey()
	b, _ := k2.SigningKey()
	if a.ID != b.ID {
		t.Fatalf("two nodes created different first keys: %s vs %s", a.ID, b.ID)
	}
	// Node 1 signs, node 2 verifies.
	i1 := token.NewIssuer(token.Config{Keys: k1})
	i2 := token.NewIssuer(token.Config{Keys: k2})
	tok, _, err := i1.Issue(7, 8)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := i2.Verify(tok); err != nil || c.UserID != 7 || c.SessionID != 8 {
		t.Fatalf("cross-node verify: %+v %v", c, err)
	}
	// After rotation node 1 signs with a new key; node 2 learns it on demand.
	if err := s1.RotateSigningKey(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k1.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := k1.SigningKey(); c.ID == a.ID {
		t.Fatal("rotation kept the old signing key")
	}
	time.Sleep(1100 * time.Millisecond) // past the keyring's reload gap
	tok2, _, _ := i1.Issue(7, 8)
	if _, err := i2.Verify(tok2); err != nil {
		t.Fatalf("verify with rotated key on another node: %v", err)
	}
	if _, err := i2.Verify(tok); err != nil {
		t.Fatalf("old key no longer verifies: %v", err)
	}
}

func TestWorkerLeases(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	w1, err := s.LeaseWorker(ctx, "n1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.LeaseWorker(ctx, "n2", time.Minute)
	if err != nil || w1 == w2 {
		t.Fatalf("two live nodes share worker %d (%v)", w1, err)
	}
	if err := s.RenewWorker(ctx, w1, "n1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewWorker(ctx, w1, "n2", time.Minute); !errors.Is(err, persistence.ErrLeaseLost) {
		t.Fatalf("renewing another node's lease: %v", err)
	}
	// An expired lease is free again, and its old holder cannot renew.
	if _, err := s.Pool().Exec(ctx, `UPDATE worker_leases SET expires_at = now() - interval '1 s' WHERE worker_id = $1`, w1); err != nil {
		t.Fatal(err)
	}
	w3, err := s.LeaseWorker(ctx, "n3", time.Minute)
	if err != nil || w3 != w1 {
		t.Fatalf("expired lease not reused: %d %v", w3, err)
	}
	if err := s.RenewWorker(ctx, w1, "n1", time.Minute); !errors.Is(err, persistence.ErrLeaseLost) {
		t.Fatalf("renewing a taken lease: %v", err)
	}
	// All 1024 in use → ErrNoWorkerID.
	if _, err := s.Pool().Exec(ctx, `INSERT INTO worker_leases SELECT g, 'x', now() + interval '1 h' FROM generate_series(0, 1023) g
		ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaseWorker(ctx, "n4", time.Minute); !errors.Is(err, persistence.ErrNoWorkerID) {
		t.Fatalf("full table: %v", err)
	}
}
