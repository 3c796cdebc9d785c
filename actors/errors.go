package actors

import (
	"errors"
	"fmt"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/userpb"
)

// Errors returned by the typed grain clients. Callers map them to protocol
// codes at the edge (HTTP status, gateway close code).
var (
	// ErrUnknownUser: no user has this id. It also matches
	// persistence.ErrNotFound.
	ErrUnknownUser = fmt.Errorf("actors: unknown user: %w", persistence.ErrNotFound)
	// ErrUsernameTaken: every discriminator of the requested username is in
	// use. It also matches persistence.ErrUsernameTaken.
	ErrUsernameTaken = fmt.Errorf("actors: %w", persistence.ErrUsernameTaken)
	// ErrWrongPassword: a password change gave no current password or a
	// wrong one. Nothing was written.
	ErrWrongPassword = errors.New("actors: wrong current password")
	// ErrUnknownGuild: the guild id is not a valid id.
	ErrUnknownGuild = errors.New("actors: unknown guild")
	// ErrInvalidUpdate: the update is malformed (an empty username or
	// password). Nothing was written.
	ErrInvalidUpdate = errors.New("actors: invalid update")
	// ErrUnavailable: the grain did not answer in time, its node went away,
	// the cluster has no member for it yet, or its store failed. The request
	// may be retried; an update may or may not have been applied.
	ErrUnavailable = errors.New("actors: unavailable")
)

// ErrAlreadyRunning is returned by Start while another System runs in this
// process: protoactor's generated grain factories are package-level, so a
// process is one node.
var ErrAlreadyRunning = errors.New("actors: a System is already running in this process")

// grainError turns a client call's error into one of the errors above.
func grainError(err error) error {
	var ge *pcluster.GrainErrorResponse
	if !errors.As(err, &ge) {
		// Timeouts, dead letters, "have reached max retries", a topology
		// without a member for the kind: all transient.
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	switch ge.Reason {
	case userpb.ErrorReason_UNKNOWN_USER.String():
		return ErrUnknownUser
	case userpb.ErrorReason_USERNAME_TAKEN.String():
		return ErrUsernameTaken
	case userpb.ErrorReason_WRONG_PASSWORD.String():
		return ErrWrongPassword
	case userpb.ErrorReason_BAD_REQUEST.String():
		return fmt.Errorf("%w: %s", ErrInvalidUpdate, ge.Message)
	case userpb.ErrorReason_STORE_UNAVAILABLE.String():
		return fmt.Errorf("%w: %s", ErrUnavailable, ge.Message)
	default:
		return fmt.Errorf("actors: grain error %s: %s", ge.Reason, ge.Message)
	}
}
