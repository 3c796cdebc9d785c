package actors

import (
	"context"
	"strconv"

	pcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/userpb"
)

// UserUpdate names the changes to make to a user; nil leaves a field as it is.
type UserUpdate struct {
	// Username is the new username. The discriminator is kept when it is
	// free for the new name, else a random free one is taken.
	Username *string
	// GlobalName set to a pointer to nil clears the display name.
	GlobalName **string
	// NewPassword changes the password; CurrentPassword must then be the
	// current one. Every login of the user except KeepFamily is revoked.
	NewPassword     *string
	CurrentPassword *string
	KeepFamily      int64
}

// Users is the typed client of the user grains. Its methods are safe for
// concurrent use; the returned User never carries a PasswordHash.
type Users struct {
	s *System
}

// grain returns the generated client for id. ids are positive snowflakes;
// the generated GetUserGrainClient panics on an empty identity.
func (u *Users) grain(id int64) (*userpb.UserGrainClient, bool) {
	if id <= 0 {
		return nil, false
	}
	return userpb.GetUserGrainClient(u.s.cluster, strconv.FormatInt(id, 10)), true
}

// Get returns the user with id: ErrUnknownUser when there is none,
// ErrUnavailable when the grain could not answer in time.
func (u *Users) Get(ctx context.Context, id int64) (persistence.User, error) {
	g, ok := u.grain(id)
	if !ok {
		return persistence.User{}, ErrUnknownUser
	}
	st, err := call(ctx, u.s, func(opts ...pcluster.GrainCallOption) (*userpb.UserState, error) {
		return g.Get(&userpb.GetUserRequest{UserId: id}, opts...)
	})
	if err != nil {
		return persistence.User{}, err
	}
	return userFromState(st), nil
}

// Update applies upd durably and returns the new user. Errors:
// ErrUnknownUser, ErrUsernameTaken, ErrWrongPassword, ErrInvalidUpdate, and
// ErrUnavailable (the update may or may not have been applied).
func (u *Users) Update(ctx context.Context, id int64, upd UserUpdate) (persistence.User, error) {
	g, ok := u.grain(id)
	if !ok {
		return persistence.User{}, ErrUnknownUser
	}
	req := &userpb.UpdateUserRequest{UserId: id, KeepFamily: upd.KeepFamily}
	if upd.Username != nil {
		req.Username = wrapperspb.String(*upd.Username)
	}
	if upd.GlobalName != nil {
		if *upd.GlobalName == nil {
			req.ClearGlobalName = true
		} else {
			req.GlobalName = wrapperspb.String(**upd.GlobalName)
		}
	}
	if upd.CurrentPassword != nil {
		req.CurrentPassword = wrapperspb.String(*upd.CurrentPassword)
	}
	if upd.NewPassword != nil {
		req.NewPassword = wrapperspb.String(*upd.NewPassword)
	}
	st, err := call(ctx, u.s, func(opts ...pcluster.GrainCallOption) (*userpb.UserState, error) {
		return g.Update(req, opts...)
	})
	if err != nil {
		return persistence.User{}, err
	}
	return userFromState(st), nil
}

func userToState(u *persistence.User) *userpb.UserState {
	st := &userpb.UserState{
		Id:            u.ID,
		Username:      u.Username,
		Discriminator: int32(u.Discriminator),
		Email:         u.Email,
		Verified:      u.Verified,
		Bot:           u.Bot,
		CreatedAt:     timestamppb.New(u.CreatedAt),
	}
	if u.GlobalName != nil {
		st.GlobalName = wrapperspb.String(*u.GlobalName)
	}
	if u.Avatar != nil {
		st.Avatar = wrapperspb.String(*u.Avatar)
	}
	return st
}

func userFromState(st *userpb.UserState) persistence.User {
	u := persistence.User{
		ID:            st.GetId(),
		Username:      st.GetUsername(),
		Discriminator: int16(st.GetDiscriminator()),
		Email:         st.GetEmail(),
		Verified:      st.GetVerified(),
		Bot:           st.GetBot(),
	}
	if st.GetCreatedAt() != nil {
		u.CreatedAt = st.GetCreatedAt().AsTime()
	}
	if st.GlobalName != nil {
		v := st.GlobalName.GetValue()
		u.GlobalName = &v
	}
	if st.Avatar != nil {
		v := st.Avatar.GetValue()
		u.Avatar = &v
	}
	return u
}
