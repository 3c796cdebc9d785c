package gateway

import (
	"errors"
	"strconv"
)

// Gateway opcodes (Discord's).
const (
	opDispatch            = 0
	opHeartbeat           = 1
	opIdentify            = 2
	opPresenceUpdate      = 3
	opVoiceStateUpdate    = 4
	opResume              = 6
	opReconnect           = 7
	opRequestGuildMembers = 8
	opInvalidSession      = 9
	opHello               = 10
	opHeartbeatACK        = 11
)

// CloseError is a gateway close code with its reason: what a command
// handler returns to end the connection. Errors of any other type close
// with 4000 (unknown error), which clients resume after.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "gateway: close " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Discord's close codes, as Discord uses them.
var (
	// ErrUnknown (4000) is any server-side failure, a slow reader and a
	// draining node: clients resume.
	ErrUnknown = &CloseError{4000, "Unknown error"}
	// ErrUnknownOpcode (4001): an opcode the gateway does not know.
	ErrUnknownOpcode = &CloseError{4001, "Unknown opcode"}
	// ErrDecode (4002): a payload that is not JSON of the expected shape, a
	// binary frame, or more than MaxPayload bytes.
	ErrDecode = &CloseError{4002, "Decode error"}
	// ErrNotAuthenticated (4003): a command other than Heartbeat, Identify
	// or Resume before Identify.
	ErrNotAuthenticated = &CloseError{4003, "Not authenticated"}
	// ErrAuthenticationFailed (4004): a token that does not verify, or
	// whose login was revoked.
	ErrAuthenticationFailed = &CloseError{4004, "Authentication failed"}
	// ErrAlreadyAuthenticated (4005): a second Identify or Resume.
	ErrAlreadyAuthenticated = &CloseError{4005, "Already authenticated"}
	// ErrInvalidSeq (4007): a Resume with a sequence number the session
	// never reached.
	ErrInvalidSeq = &CloseError{4007, "Invalid seq"}
	// ErrRateLimited (4008): more than CommandLimit commands in
	// CommandWindow.
	ErrRateLimited = &CloseError{4008, "Rate limited"}
	// ErrSessionTimedOut (4009): no heartbeat within the interval and its
	// grace.
	ErrSessionTimedOut = &CloseError{4009, "Session timed out"}
	// ErrInvalidShard (4010): a shard that is not [id, count] with
	// 0 <= id < count.
	ErrInvalidShard = &CloseError{4010, "Invalid shard"}
	// ErrShardingRequired (4011) is never sent: Accord does not require
	// sharding.
	ErrShardingRequired = &CloseError{4011, "Sharding required"}
	// ErrInvalidAPIVersion (4012): a v other than 9 or 10.
	ErrInvalidAPIVersion = &CloseError{4012, "Invalid API version"}
	// ErrInvalidIntents (4013): unknown intent bits, or a bot without
	// intents.
	ErrInvalidIntents = &CloseError{4013, "Invalid intent(s)"}
	// ErrDisallowedIntents (4014): a privileged intent the bot's
	// application does not have.
	ErrDisallowedIntents = &CloseError{4014, "Disallowed intent(s)"}
)

// closeOf maps any error to the close code it ends the connection with.
func closeOf(err error) *CloseError {
	var ce *CloseError
	if errors.As(err, &ce) {
		return ce
	}
	return ErrUnknown
}

// Payloads that never change. Non-dispatch payloads carry "t" and "s" as
// null, as Discord's do.
var (
	payloadHeartbeatACK   = []byte(`{"t":null,"s":null,"op":11,"d":null}`)
	payloadReconnect      = []byte(`{"t":null,"s":null,"op":7,"d":null}`)
	payloadInvalidSession = []byte(`{"t":null,"s":null,"op":9,"d":false}`)
)

// helloPayload is op 10 with the heartbeat interval in milliseconds (an
// integer: discordgo decodes it into a time.Duration).
func helloPayload(intervalMS int64) []byte {
	b := []byte(`{"t":null,"s":null,"op":10,"d":{"heartbeat_interval":`)
	b = strconv.AppendInt(b, intervalMS, 10)
	return append(b, `,"_trace":["accord-gateway"]}}`...)
}

// dispatchHead builds the shared part of a dispatch frame: everything but
// the sequence number and the closing brace, which each session appends
// (see outFrame). "s" goes last so that the bytes before it are the same for
// every recipient.
func dispatchHead(typ string, data []byte) []byte {
	const open, mid, end = `{"t":"`, `","op":0,"d":`, `,"s":`
	b := make([]byte, 0, len(open)+len(typ)+len(mid)+len(data)+len(end))
	b = append(b, open...)
	b = append(b, typ...)
	b = append(b, mid...)
	b = append(b, data...)
	return append(b, end...)
}
