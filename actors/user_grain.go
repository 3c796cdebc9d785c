package actors

import (
	"context"
	"errors"
	"log/slog"
	"strconv"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/userpb"
)

// userGrain is the activation of one user: kind "User", identity the user id
// in decimal. Its state is owned by its mailbox; there are no locks.
//
// It loads the user at its first request and answers reads from memory;
// every write goes to PostgreSQL first and only then into memory and the
// answer. It never holds the password hash: a password change reads the
// hash fresh from the store. After UserIdleTimeout without messages the
// generated actor poisons it (passivation); the next request activates a new
// one, which loads again.
//
// Writes that bypass the grain (other than the password hash) are not seen
// until the grain passivates: profile changes must go through Users.Update.
type userGrain struct {
	sys  *System
	id   int64             // from the identity; 0 if it is not a valid id
	user *persistence.User // nil until loaded; PasswordHash always empty
}

var _ userpb.User = (*userGrain)(nil)

func (g *userGrain) Init(ctx pcluster.GrainContext) {
	g.sys.hosted.activated(KindUser, ctx.Identity())
	if id, err := strconv.ParseInt(ctx.Identity(), 10, 64); err == nil && id > 0 {
		g.id = id
	}
}

func (g *userGrain) Terminate(ctx pcluster.GrainContext) {
	g.sys.hosted.stopped(KindUser, ctx.Identity())
}

func (g *userGrain) ReceiveDefault(pcluster.GrainContext) {}

// storeCtx bounds one store or hasher call made by the grain.
func (g *userGrain) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.sys.cfg.RequestTimeout)
}

func (g *userGrain) Get(req *userpb.GetUserRequest, ctx pcluster.GrainContext) (*userpb.UserState, error) {
	if err := g.checkID(req.GetUserId()); err != nil {
		return nil, err
	}
	u, err := g.load(ctx)
	if err != nil {
		return nil, err
	}
	return userToState(u), nil
}

func (g *userGrain) Update(req *userpb.UpdateUserRequest, ctx pcluster.GrainContext) (*userpb.UserState, error) {
	if err := g.checkID(req.GetUserId()); err != nil {
		return nil, err
	}
	cur, err := g.load(ctx)
	if err != nil {
		return nil, err
	}

	var upd persistence.UserUpdate
	changed := false
	if req.Username != nil {
		name := req.Username.GetValue()
		if name == "" {
			return nil, userpb.ErrBadRequest("empty username")
		}
		upd.Username = &name
		changed = true
	}
	switch {
	case req.GetClearGlobalName():
		var none *string
		upd.GlobalName = &none
		changed = true
	case req.GlobalName != nil:
		name := req.GlobalName.GetValue()
		p := &name
		upd.GlobalName = &p
		changed = true
	}
	if req.NewPassword != nil {
		hash, err := g.newPasswordHash(ctx, req)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &hash
		upd.KeepFamily = req.GetKeepFamily()
		changed = true
	}
	if !changed {
		return userToState(cur), nil
	}

	sctx, cancel := g.storeCtx()
	defer cancel()
	u, err := g.sys.cfg.Users.UpdateUser(sctx, g.id, upd)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		g.forget(ctx)
		return nil, userpb.ErrUnknownUser("user %d not found", g.id)
	case errors.Is(err, persistence.ErrUsernameTaken):
		return nil, userpb.ErrUsernameTaken("username %q is taken", *upd.Username)
	case err != nil:
		// The transaction may or may not have committed: reload next time.
		g.user = nil
		g.sys.log.Error("actors: user update failed", slog.Int64("user", g.id), slog.Any("error", err))
		return nil, userpb.ErrStoreUnavailable("update user %d: %v", g.id, err)
	}
	u.PasswordHash = ""
	g.user = &u
	return userToState(g.user), nil
}

// newPasswordHash checks current_password against the hash in the store and
// hashes new_password. Nothing is written.
func (g *userGrain) newPasswordHash(ctx pcluster.GrainContext, req *userpb.UpdateUserRequest) (string, error) {
	newPw := req.NewPassword.GetValue()
	if newPw == "" {
		return "", userpb.ErrBadRequest("empty new password")
	}
	if req.CurrentPassword == nil {
		return "", userpb.ErrWrongPassword("current password required")
	}
	sctx, cancel := g.storeCtx()
	defer cancel()
	fresh, err := g.sys.cfg.Users.UserByID(sctx, g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		g.forget(ctx)
		return "", userpb.ErrUnknownUser("user %d not found", g.id)
	case err != nil:
		return "", userpb.ErrStoreUnavailable("load user %d: %v", g.id, err)
	}
	ok, _, err := g.sys.cfg.Passwords.Verify(sctx, req.CurrentPassword.GetValue(), fresh.PasswordHash)
	if err != nil {
		if sctx.Err() != nil {
			return "", userpb.ErrStoreUnavailable("verify password: %v", err)
		}
		// A stored hash we cannot parse: no password can match it.
		g.sys.log.Error("actors: cannot verify stored password hash", slog.Int64("user", g.id), slog.Any("error", err))
		return "", userpb.ErrWrongPassword("current password does not match")
	}
	if !ok {
		return "", userpb.ErrWrongPassword("current password does not match")
	}
	hash, err := g.sys.cfg.Passwords.Hash(sctx, newPw)
	if err != nil {
		return "", userpb.ErrStoreUnavailable("hash password: %v", err)
	}
	return hash, nil
}

// load returns the user, reading it from the store on first use.
func (g *userGrain) load(ctx pcluster.GrainContext) (*persistence.User, error) {
	if g.user != nil {
		return g.user, nil
	}
	if g.id == 0 {
		g.forget(ctx)
		return nil, userpb.ErrUnknownUser("invalid user id %q", ctx.Identity())
	}
	sctx, cancel := g.storeCtx()
	defer cancel()
	u, err := g.sys.cfg.Users.UserByID(sctx, g.id)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		g.forget(ctx)
		return nil, userpb.ErrUnknownUser("user %d not found", g.id)
	case err != nil:
		g.sys.log.Warn("actors: cannot load user", slog.Int64("user", g.id), slog.Any("error", err))
		return nil, userpb.ErrStoreUnavailable("load user %d: %v", g.id, err)
	}
	u.PasswordHash = ""
	g.user = &u
	return g.user, nil
}

// forget stops an activation that has no user to own, so that lookups of
// unknown ids do not leave grains behind until the idle timeout. Requests
// already queued are answered first; later ones reach a new activation.
func (g *userGrain) forget(ctx pcluster.GrainContext) {
	g.user = nil
	ctx.Poison(ctx.Self())
}

func (g *userGrain) checkID(id int64) error {
	if id != g.id {
		return userpb.ErrBadRequest("request for user %d sent to grain %d", id, g.id)
	}
	return nil
}
