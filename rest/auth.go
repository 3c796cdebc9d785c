package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/token"
	"github.com/gin-gonic/gin"
)

// tokenPair is the answer to register, login and refresh.
type tokenPair struct {
	User         discord.User `json:"user"`
	AccessToken  string       `json:"access_token"`
	RefreshToken string       `json:"refresh_token"`
	TokenType    string       `json:"token_type"`
	ExpiresIn    int          `json:"expires_in"`
}

type registerRequest struct {
	Username *string `json:"username"`
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

func (s *Server) register(c *gin.Context) {
	var req registerRequest
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	fe := discord.FieldErrors{}
	username := validateUsername(fe, "username", req.Username, true)
	email := validateEmail(fe, "email", req.Email)
	validatePassword(fe, "password", req.Password)
	if e := fe.Err(); e != nil {
		writeError(c, e)
		return
	}
	ctx := c.Request.Context()
	hash, err := s.cfg.Passwords.Hash(ctx, *req.Password)
	if err != nil {
		s.fail(c, "hashing password", err)
		return
	}
	id, err := s.cfg.IDs.Next()
	if err != nil {
		s.fail(c, "issuing user id", err)
		return
	}
	user, err := s.cfg.Accounts.CreateUser(ctx, persistence.NewUser{ID: int64(id), Username: username, Email: email, PasswordHash: hash})
	switch {
	case errors.Is(err, persistence.ErrEmailTaken):
		writeError(c, discord.Invalid("email", "EMAIL_ALREADY_REGISTERED", "Email is already registered."))
		return
	case errors.Is(err, persistence.ErrUsernameTaken):
		writeError(c, discord.Invalid("username", "USERNAME_TOO_MANY_USERS", "Too many users have this username, please try another."))
		return
	case err != nil:
		s.fail(c, "creating user", err)
		return
	}
	s.startLogin(c, http.StatusCreated, user)
}

type loginRequest struct {
	Login    *string `json:"login"`
	Password *string `json:"password"`
}

// invalidLogin is the one answer to every failed login, whether or not the
// account exists.
func invalidLogin() *discord.Error {
	fe := discord.FieldErrors{}
	fe.Add("login", "INVALID_LOGIN", "Login or password is invalid.")
	fe.Add("password", "INVALID_LOGIN", "Login or password is invalid.")
	return fe.Err()
}

func (s *Server) login(c *gin.Context) {
	var req loginRequest
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	fe := discord.FieldErrors{}
	if req.Login == nil || strings.TrimSpace(*req.Login) == "" {
		fe.Add("login", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if req.Password == nil || *req.Password == "" {
		fe.Add("password", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if e := fe.Err(); e != nil {
		writeError(c, e)
		return
	}
	ctx := c.Request.Context()
	user, err := s.findLogin(ctx, strings.TrimSpace(*req.Login))
	if err == nil && user.Bot {
		// Bots have no password; they use their token.
		err = persistence.ErrNotFound
	}
	if errors.Is(err, persistence.ErrNotFound) {
		// Spend the time a real check would, so timing does not tell
		// whether the account exists.
		s.cfg.Passwords.DummyVerify(ctx, *req.Password)
		writeError(c, invalidLogin())
		return
	}
	if err != nil {
		s.fail(c, "looking up login", err)
		return
	}
	ok, rehash, err := s.cfg.Passwords.Verify(ctx, *req.Password, user.PasswordHash)
	if err != nil {
		s.fail(c, "verifying password", err)
		return
	}
	if !ok {
		writeError(c, invalidLogin())
		return
	}
	if rehash {
		if h, err := s.cfg.Passwords.Hash(ctx, *req.Password); err == nil {
			if err := s.cfg.Accounts.SetPasswordHash(ctx, user.ID, user.PasswordHash, h); err != nil {
				s.cfg.Logger.Warn("rehashing password failed", "user", user.ID, "error", err)
			}
		}
	}
	s.startLogin(c, http.StatusOK, user)
}

var tagPattern = regexp.MustCompile(`^(.+)#([0-9]{4})$`)

// findLogin resolves a login: an email, username#discriminator, or a bare
// username that exactly one account bears.
func (s *Server) findLogin(ctx context.Context, login string) (persistence.User, error) {
	if strings.Contains(login, "@") {
		return s.cfg.Accounts.UserByEmail(ctx, login)
	}
	if m := tagPattern.FindStringSubmatch(login); m != nil {
		d, _ := strconv.Atoi(m[2])
		return s.cfg.Accounts.UserByTag(ctx, m[1], int16(d))
	}
	users, err := s.cfg.Accounts.UsersByUsername(ctx, login, 2)
	if err != nil {
		return persistence.User{}, err
	}
	if len(users) != 1 {
		return persistence.User{}, persistence.ErrNotFound
	}
	return users[0], nil
}

// startLogin opens a token family for user and answers with its first pair.
func (s *Server) startLogin(c *gin.Context, status int, user persistence.User) {
	ctx := c.Request.Context()
	family, err := s.cfg.IDs.Next()
	if err != nil {
		s.fail(c, "issuing session id", err)
		return
	}
	plain, hash, err := token.NewRefreshToken()
	if err != nil {
		s.fail(c, "making refresh token", err)
		return
	}
	if err := s.cfg.Accounts.CreateFamily(ctx, int64(family), user.ID, hash, time.Now().Add(s.cfg.RefreshTTL)); err != nil {
		s.fail(c, "storing token family", err)
		return
	}
	s.answerPair(c, status, user, int64(family), plain)
}

func (s *Server) answerPair(c *gin.Context, status int, user persistence.User, family int64, refresh string) {
	access, claims, err := s.cfg.Tokens.Issue(user.ID, family)
	if err != nil {
		s.fail(c, "signing access token", err)
		return
	}
	writeJSON(c, status, tokenPair{
		User:         toUser(user, true),
		AccessToken:  access,
		RefreshToken: refresh,
		TokenType:    "Bearer",
		ExpiresIn:    int(claims.ExpiresAt.Sub(claims.IssuedAt).Seconds()),
	})
}

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

func (s *Server) refresh(c *gin.Context) {
	var req refreshRequest
	if e := decodeJSON(c, &req, false); e != nil {
		writeError(c, e)
		return
	}
	if req.RefreshToken == nil || *req.RefreshToken == "" {
		writeError(c, discord.Invalid("refresh_token", "BASE_TYPE_REQUIRED", "This field is required"))
		return
	}
	ctx := c.Request.Context()
	plain, hash, err := token.NewRefreshToken()
	if err != nil {
		s.fail(c, "making refresh token", err)
		return
	}
	userID, family, err := s.cfg.Accounts.RotateRefresh(ctx, token.HashRefreshToken(*req.RefreshToken), hash, time.Now().Add(s.cfg.RefreshTTL))
	switch {
	case errors.Is(err, persistence.ErrRefreshReused):
		s.families.put(family, false)
		s.cfg.Logger.Warn("refresh token reused; token family revoked")
		writeError(c, discord.ErrUnauthorized)
		return
	case errors.Is(err, persistence.ErrRefreshInvalid):
		writeError(c, discord.ErrUnauthorized)
		return
	case err != nil:
		s.fail(c, "rotating refresh token", err)
		return
	}
	user, err := s.cfg.Accounts.UserByID(ctx, userID)
	if err != nil {
		s.fail(c, "loading user", err)
		return
	}
	s.answerPair(c, http.StatusOK, user, family, plain)
}

type logoutRequest struct {
	All *bool `json:"all"`
}

func (s *Server) logout(c *gin.Context) {
	var req logoutRequest
	if e := decodeJSON(c, &req, true); e != nil {
		writeError(c, e)
		return
	}
	cl := caller(c)
	ctx := c.Request.Context()
	var err error
	if req.All != nil && *req.All {
		err = s.cfg.Accounts.RevokeUserFamilies(ctx, cl.UserID, "logout all")
	} else {
		err = s.cfg.Accounts.RevokeFamily(ctx, cl.SessionID, "logout")
	}
	if err != nil {
		s.fail(c, "revoking tokens", err)
		return
	}
	s.families.put(cl.SessionID, false)
	c.Status(http.StatusNoContent)
}

// fail logs an unexpected error and answers 503 (retryable) when the cause is
// a timeout, a cancellation or an unavailable dependency, else 500.
func (s *Server) fail(c *gin.Context, what string, err error) {
	if errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		c.Abort() // the client went away
		return
	}
	s.cfg.Logger.Error(what+" failed", "error", err, "path", c.FullPath())
	if retryable(err) {
		writeError(c, discord.ErrUnavailable)
		return
	}
	writeError(c, discord.ErrInternal)
}

func validateUsername(fe discord.FieldErrors, field string, v *string, required bool) string {
	if v == nil {
		if required {
			fe.Add(field, "BASE_TYPE_REQUIRED", "This field is required")
		}
		return ""
	}
	name := strings.TrimSpace(*v)
	n := utf8.RuneCountInString(name)
	switch {
	case n < 2 || n > 32:
		fe.Add(field, "BASE_TYPE_BAD_LENGTH", "Must be between 2 and 32 in length.")
	case strings.ContainsAny(name, "@#:") || strings.Contains(name, "```"):
		fe.Add(field, "USERNAME_INVALID_CONTAINS", "Username cannot contain \"@\", \"#\", \":\" or \"```\".")
	case strings.EqualFold(name, "everyone") || strings.EqualFold(name, "here"):
		fe.Add(field, "USERNAME_INVALID", "Username is not allowed.")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		fe.Add(field, "USERNAME_INVALID", "Username cannot contain control characters.")
	}
	return name
}

func validateEmail(fe discord.FieldErrors, field string, v *string) string {
	if v == nil || *v == "" {
		fe.Add(field, "BASE_TYPE_REQUIRED", "This field is required")
		return ""
	}
	email := strings.TrimSpace(*v)
	at := strings.LastIndexByte(email, '@')
	if len(email) > 254 || at < 1 || at == len(email)-1 || !strings.Contains(email[at+1:], ".") ||
		strings.ContainsFunc(email, unicode.IsSpace) || strings.Count(email, "@") != 1 {
		fe.Add(field, "EMAIL_TYPE_INVALID_EMAIL", "Not a well formed email address.")
	}
	return email
}

// Password length bounds; the upper one also bounds hashing work.
const (
	minPassword = 8
	maxPassword = 72
)

func validatePassword(fe discord.FieldErrors, field string, v *string) {
	if v == nil || *v == "" {
		fe.Add(field, "BASE_TYPE_REQUIRED", "This field is required")
		return
	}
	if n := utf8.RuneCountInString(*v); n < minPassword || n > maxPassword {
		fe.Add(field, "BASE_TYPE_BAD_LENGTH", fmt.Sprintf("Must be between %d and %d in length.", minPassword, maxPassword))
	}
}
