package discord

import (
	"net/http"
	"strconv"
)

// Code is a Discord JSON error code.
type Code int

// The JSON error codes Accord answers with, as Discord documents them.
const (
	CodeGeneral              Code = 0
	CodeUnknownAccount       Code = 10001
	CodeUnknownUser          Code = 10013
	CodeRequestTooLarge      Code = 40005
	CodeMissingAccess        Code = 50001
	CodeInvalidFormBody      Code = 50035
	CodeInvalidJSON          Code = 50109
	CodeServiceUnavailable   Code = 130000
	CodeMissingPermissions   Code = 50013
	CodeInvalidAuthorization Code = 50014
)

// Error is the body of every error response: {"code", "message", "errors"?}.
type Error struct {
	Status  int         `json:"-"`
	Code    Code        `json:"code"`
	Message string      `json:"message"`
	Errors  FieldErrors `json:"errors,omitempty"`
}

func (e *Error) Error() string { return strconv.Itoa(int(e.Code)) + ": " + e.Message }

// FieldError is one entry of a field's "_errors" list.
type FieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// FieldErrors maps a field name to its errors, as Discord nests them:
// {"username": {"_errors": [{"code": "...", "message": "..."}]}}.
type FieldErrors map[string]map[string][]FieldError

// Add records one error for field.
func (f FieldErrors) Add(field, code, message string) {
	if f[field] == nil {
		f[field] = map[string][]FieldError{}
	}
	f[field]["_errors"] = append(f[field]["_errors"], FieldError{Code: code, Message: message})
}

// Err returns an Invalid Form Body error carrying f, or nil when f is empty.
func (f FieldErrors) Err() *Error {
	if len(f) == 0 {
		return nil
	}
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidFormBody, Message: "Invalid Form Body", Errors: f}
}

// Invalid is a one-field Invalid Form Body error.
func Invalid(field, code, message string) *Error {
	f := FieldErrors{}
	f.Add(field, code, message)
	return f.Err()
}

// Errors with fixed bodies.
var (
	ErrUnauthorized     = &Error{Status: http.StatusUnauthorized, Code: CodeGeneral, Message: "401: Unauthorized"}
	ErrNotFound         = &Error{Status: http.StatusNotFound, Code: CodeGeneral, Message: "404: Not Found"}
	ErrMethodNotAllowed = &Error{Status: http.StatusMethodNotAllowed, Code: CodeGeneral, Message: "405: Method Not Allowed"}
	ErrInvalidJSON      = &Error{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: "The request body contains invalid JSON."}
	ErrTooLarge         = &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeRequestTooLarge, Message: "Request entity too large"}
	ErrUnknownUser      = &Error{Status: http.StatusNotFound, Code: CodeUnknownUser, Message: "Unknown User"}
	ErrUnavailable      = &Error{Status: http.StatusServiceUnavailable, Code: CodeServiceUnavailable, Message: "API resource is currently overloaded. Try again a little later."}
	ErrInternal         = &Error{Status: http.StatusInternalServerError, Code: CodeGeneral, Message: "500: Internal Server Error"}
)

// Unknown-entity and permission errors of the guild API.
var (
	ErrUnknownGuild     = &Error{Status: http.StatusNotFound, Code: 10004, Message: "Unknown Guild"}
	ErrUnknownChannel   = &Error{Status: http.StatusNotFound, Code: 10003, Message: "Unknown Channel"}
	ErrUnknownRole      = &Error{Status: http.StatusNotFound, Code: 10011, Message: "Unknown Role"}
	ErrUnknownMember    = &Error{Status: http.StatusNotFound, Code: 10007, Message: "Unknown Member"}
	ErrUnknownInvite    = &Error{Status: http.StatusNotFound, Code: 10006, Message: "Unknown Invite"}
	ErrUnknownBan       = &Error{Status: http.StatusNotFound, Code: 10026, Message: "Unknown Ban"}
	ErrUnknownOverwrite = &Error{Status: http.StatusNotFound, Code: 10009, Message: "Unknown Overwrite"}
	ErrMissingAccess    = &Error{Status: http.StatusForbidden, Code: CodeMissingAccess, Message: "Missing Access"}
	ErrMissingPerms     = &Error{Status: http.StatusForbidden, Code: CodeMissingPermissions, Message: "Missing Permissions"}
	ErrBanned           = &Error{Status: http.StatusForbidden, Code: 40007, Message: "The user is banned from this guild."}
	ErrOwnerOnly        = &Error{Status: http.StatusForbidden, Code: 50013, Message: "Missing Permissions"}
	ErrMaxGuilds        = &Error{Status: http.StatusBadRequest, Code: 30001, Message: "Maximum number of guilds reached (100)"}
	ErrMaxRoles         = &Error{Status: http.StatusBadRequest, Code: 30005, Message: "Maximum number of guild roles reached (250)"}
	ErrMaxChannels      = &Error{Status: http.StatusBadRequest, Code: 30013, Message: "Maximum number of guild channels reached (500)"}
	ErrOwnerCannotLeave = &Error{Status: http.StatusBadRequest, Code: 50055, Message: "Invalid Guild"}
)

// Errors of the message API.
var (
	ErrUnknownMessage     = &Error{Status: http.StatusNotFound, Code: 10008, Message: "Unknown Message"}
	ErrEmptyMessage       = &Error{Status: http.StatusBadRequest, Code: 50006, Message: "Cannot send an empty message"}
	ErrNotAuthor          = &Error{Status: http.StatusForbidden, Code: 50005, Message: "Cannot edit a message authored by another user"}
	ErrCannotDM           = &Error{Status: http.StatusForbidden, Code: 50007, Message: "Cannot send messages to this user"}
	ErrTooOldToBulkDelete = &Error{Status: http.StatusBadRequest, Code: 50034, Message: "You can only bulk delete messages that are under 14 days old."}
	ErrMaxPins            = &Error{Status: http.StatusBadRequest, Code: 30003, Message: "Maximum number of pins reached (50)"}
	ErrUnknownEmoji       = &Error{Status: http.StatusBadRequest, Code: 10014, Message: "Unknown Emoji"}
	ErrMaxReactions       = &Error{Status: http.StatusBadRequest, Code: 30010, Message: "Maximum number of reactions reached (20)"}
)
