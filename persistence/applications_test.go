package persistence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/token"
)

func TestApplicationTokens(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	owner, err := s.CreateUser(ctx, persistence.NewUser{ID: 1, Username: "ada", Email: "ada@example.com", PasswordHash: "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, hash, err := token.NewBotToken(100, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	app, bot, err := s.CreateApplication(ctx, persistence.NewApplication{ID: 100, OwnerID: owner.ID, Name: "Helper",
		Flags: 1 << 19, TokenFamilyID: 500, TokenHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	if app.ID != 100 || bot.ID != 100 || !bot.Bot || bot.Username != "Helper" || app.OwnerID != owner.ID || app.Flags != 1<<19 {
		t.Fatalf("application %+v, bot %+v", app, bot)
	}
	// A second bot of the same name gets another discriminator.
	_, bot2, err := s.CreateApplication(ctx, persistence.NewApplication{ID: 101, OwnerID: owner.ID, Name: "helper",
		TokenFamilyID: 501, TokenHash: hash})
	if err != nil || bot2.Discriminator == bot.Discriminator {
		t.Fatalf("second bot %+v, %v", bot2, err)
	}
	if fam, err := s.BotTokenFamily(ctx, 100, hash); err != nil || fam != 500 {
		t.Fatalf("BotTokenFamily = %d, %v", fam, err)
	}
	// Another secret never matches.
	if _, err := s.BotTokenFamily(ctx, 100, make([]byte, 32)); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("wrong hash: %v", err)
	}

	_, fresh, _ := token.NewBotToken(100, time.Now())
	old, err := s.ResetBotToken(ctx, 100, 502, fresh)
	if err != nil || old != 500 {
		t.Fatalf("ResetBotToken = %d, %v", old, err)
	}
	if _, err := s.BotTokenFamily(ctx, 100, hash); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("old token after reset: %v", err)
	}
	if fam, err := s.BotTokenFamily(ctx, 100, fresh); err != nil || fam != 502 {
		t.Fatalf("new token: %d, %v", fam, err)
	}
	if active, _ := s.FamilyActive(ctx, 500, 100); active {
		t.Fatal("the old token's family is still active")
	}
	if active, _ := s.FamilyActive(ctx, 502, 100); !active {
		t.Fatal("the new token's family is not active")
	}
	if _, err := s.ResetBotToken(ctx, 999, 503, fresh); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("reset of an unknown application: %v", err)
	}

	if flags, err := s.ApplicationFlags(ctx, 100); err != nil || flags != 1<<19 {
		t.Fatalf("ApplicationFlags = %d, %v", flags, err)
	}
	if _, err := s.ApplicationFlags(ctx, owner.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("flags of a person: %v", err)
	}
	if a, err := s.SetApplicationFlags(ctx, 100, 0); err != nil || a.Flags != 0 {
		t.Fatalf("SetApplicationFlags: %+v, %v", a, err)
	}
	if _, err := s.ApplicationByID(ctx, 12345); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unknown application: %v", err)
	}
}
