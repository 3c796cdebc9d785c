package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/gin-gonic/gin"
)

// toUser renders a user; self adds the fields only the user may read.
func toUser(u persistence.User, self bool) discord.User {
	out := discord.User{
		ID:            snowflake.ID(u.ID),
		Username:      u.Username,
		Discriminator: fmt.Sprintf("%04d", u.Discriminator),
		GlobalName:    u.GlobalName,
		Avatar:        u.Avatar,
		Bot:           u.Bot,
	}
	if self {
		email, verified, mfa, locale := u.Email, u.Verified, false, "en-US"
		out.Email, out.Verified, out.MFAEnabled, out.Locale = &email, &verified, &mfa, &locale
	}
	return out
}

func (s *Server) getMe(c *gin.Context) {
	u, err := s.cfg.Users.Get(c.Request.Context(), caller(c).UserID)
	if err != nil {
		s.userError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toUser(u, true))
}

func (s *Server) getUser(c *gin.Context) {
	id, err := snowflake.Parse(c.Param("user_id"))
	if err != nil {
		writeError(c, discord.ErrUnknownUser)
		return
	}
	cl := caller(c)
	u, err := s.cfg.Users.Get(c.Request.Context(), int64(id))
	if err != nil {
		s.userError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toUser(u, u.ID == cl.UserID))
}

// patchMeRequest is Discord's Modify Current User body plus the password
// change of the native API. Avatars arrive with file uploads.
type patchMeRequest struct {
	Username    *string          `json:"username"`
	GlobalName  nullable[string] `json:"global_name"`
	Password    *string          `json:"password"`
	NewPassword *string          `json:"new_password"`
	Avatar      *string          `json:"avatar"`
}

func (s *Server) patchMe(c *gin.Context) {
	var req patchMeRequest
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	fe := discord.FieldErrors{}
	upd := actors.UserUpdate{KeepFamily: caller(c).SessionID}
	if req.Username != nil {
		name := validateUsername(fe, "username", req.Username, false)
		upd.Username = &name
	}
	switch {
	case req.GlobalName.Null:
		var none *string
		upd.GlobalName = &none
	case req.GlobalName.Set:
		if n := len([]rune(req.GlobalName.Value)); n < 1 || n > 32 {
			fe.Add("global_name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
		}
		gn := &req.GlobalName.Value
		upd.GlobalName = &gn
	}
	if req.Avatar != nil {
		fe.Add("avatar", "AVATAR_UNSUPPORTED", "Avatars are not supported yet.")
	}
	if req.NewPassword != nil {
		validatePassword(fe, "new_password", req.NewPassword)
		if req.Password == nil || *req.Password == "" {
			fe.Add("password", "BASE_TYPE_REQUIRED", "This field is required")
		}
		upd.CurrentPassword, upd.NewPassword = req.Password, req.NewPassword
	}
	if e := fe.Err(); e != nil {
		writeError(c, e)
		return
	}
	u, err := s.cfg.Users.Update(c.Request.Context(), caller(c).UserID, upd)
	switch {
	case errors.Is(err, actors.ErrWrongPassword):
		writeError(c, discord.Invalid("password", "PASSWORD_DOES_NOT_MATCH", "Password does not match."))
		return
	case errors.Is(err, actors.ErrUsernameTaken):
		writeError(c, discord.Invalid("username", "USERNAME_TOO_MANY_USERS", "Too many users have this username, please try another."))
		return
	case err != nil:
		s.userError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, toUser(u, true))
}

func (s *Server) userError(c *gin.Context, err error) {
	if errors.Is(err, actors.ErrUnknownUser) {
		writeError(c, discord.ErrUnknownUser)
		return
	}
	s.fail(c, "user grain", err)
}

// retryable reports whether err is worth a retry by the client (503).
func retryable(err error) bool {
	return errors.Is(err, actors.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, snowflake.ErrNoLease) || errors.Is(err, context.Canceled)
}
