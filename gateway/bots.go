package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/token"
)

// BotSource verifies bot tokens and reads bots' applications.
// *persistence.Store implements it.
type BotSource interface {
	// BotTokenFamily returns the token family of bot botID's current token
	// when hash is its secret's hash, or persistence.ErrNotFound.
	BotTokenFamily(ctx context.Context, botID int64, hash []byte) (int64, error)
	// ApplicationFlags returns the flags of bot botID's application, or
	// persistence.ErrNotFound when it has none.
	ApplicationFlags(ctx context.Context, botID int64) (int64, error)
	// StartSession records a session start of bot botID unless it made
	// limit of them in the last 24 hours (ok false).
	StartSession(ctx context.Context, botID int64, limit int) (ok bool, resetAfter time.Duration, err error)
}

// startBotSession counts an Identify against the bot's session start limit
// (persistence.SessionStartLimit per 24 hours, as GET /gateway/bot
// reports): past it, the Identify is closed with 4008, and the bot library
// waits for reset_after before it identifies again.
func (s *Server) startBotSession(ctx context.Context, botID int64) error {
	if s.cfg.Bots == nil {
		return nil
	}
	ok, reset, err := s.cfg.Bots.StartSession(ctx, botID, persistence.SessionStartLimit)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("gateway: bot over its session start limit", slog.Int64("bot", botID), slog.Duration("reset_after", reset))
		return ErrRateLimited
	}
	return nil
}

// Application flags that allow an unverified bot a privileged intent
// (Discord's GATEWAY_*_LIMITED), and the verified bots' equivalents.
const (
	flagGatewayPresence              int64 = 1 << 12
	flagGatewayPresenceLimited       int64 = 1 << 13
	flagGatewayGuildMembers          int64 = 1 << 14
	flagGatewayGuildMembersLimited   int64 = 1 << 15
	flagGatewayMessageContent        int64 = 1 << 18
	flagGatewayMessageContentLimited int64 = 1 << 19
)

// privilegedIntents is what an application's flags allow of the privileged
// intents.
func privilegedIntents(flags int64) uint64 {
	var out uint64
	if flags&(flagGatewayPresence|flagGatewayPresenceLimited) != 0 {
		out |= IntentGuildPresences
	}
	if flags&(flagGatewayGuildMembers|flagGatewayGuildMembersLimited) != 0 {
		out |= IntentGuildMembers
	}
	if flags&(flagGatewayMessageContent|flagGatewayMessageContentLimited) != 0 {
		out |= IntentMessageContent
	}
	return out
}

// verifyBot looks a bot token up: its claims, with the token's family as
// the session id so that a reset token fails the family check as a
// revoked login does. Errors for an unknown token wrap
// token.ErrInvalidToken.
func (s *Server) verifyBot(ctx context.Context, botID int64, hash []byte) (token.Claims, error) {
	if s.cfg.Bots == nil {
		return token.Claims{}, fmt.Errorf("%w: bot tokens are not served", token.ErrInvalidToken)
	}
	family, err := s.cfg.Bots.BotTokenFamily(ctx, botID, hash)
	if errors.Is(err, persistence.ErrNotFound) {
		return token.Claims{}, fmt.Errorf("%w: unknown bot token", token.ErrInvalidToken)
	}
	if err != nil {
		return token.Claims{}, err
	}
	now := time.Now()
	return token.Claims{UserID: botID, SessionID: family, IssuedAt: now, ExpiresAt: now}, nil
}

// applicationOf returns the flags of bot userID's application: all three
// limited intent flags for a bot without one (a bot user made by other
// means) or when no BotSource is configured, as a new application has.
func (s *Server) applicationOf(ctx context.Context, userID int64) (int64, error) {
	all := flagGatewayPresenceLimited | flagGatewayGuildMembersLimited | flagGatewayMessageContentLimited
	if s.cfg.Bots == nil {
		return all, nil
	}
	flags, err := s.cfg.Bots.ApplicationFlags(ctx, userID)
	if errors.Is(err, persistence.ErrNotFound) {
		return all, nil
	}
	return flags, err
}
