package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/gobwas/ws"
)

// Errors of the frame reader. Both close the connection with 4002.
var (
	// errTooLarge is a message over the payload limit. Its bytes are not
	// read.
	errTooLarge = errors.New("gateway: payload too large")
	// errProtocol is a frame RFC 6455 forbids from a client: unmasked,
	// with reserved bits or opcodes, a fragmented or oversized control
	// frame, a continuation out of place.
	errProtocol = errors.New("gateway: websocket protocol violation")
)

// msgPool holds the buffers client messages are read into; they are taken
// for one message and returned once it is handled, so an idle connection
// holds none.
var msgPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// frameReader reads client messages: whole data messages (fragments joined)
// and control frames, unmasked. It allocates nothing per message in the
// steady state. Owned by the connection's reader goroutine.
type frameReader struct {
	r   io.Reader
	max int // the largest data message, in bytes

	hdr    [ws.MaxHeaderSize - 2]byte
	ctl    [125]byte
	msg    *[]byte   // the message being read, from msgPool; nil between messages
	fragOp ws.OpCode // the opcode of the fragmented message in progress, 0 if none
	// skip is the unread payload of the frame errTooLarge refused.
	skip int64
}

func newFrameReader(r io.Reader, max int) *frameReader {
	return &frameReader{r: r, max: max}
}

// next returns the next data message or control frame. The payload is valid
// until the following call of next or release.
func (fr *frameReader) next() (ws.OpCode, []byte, error) {
	for {
		h, err := ws.ReadHeaderBuffer(fr.r, fr.hdr[:])
		if errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected) {
			return 0, nil, errProtocol
		}
		if err != nil {
			return 0, nil, err
		}
		if h.Rsv != 0 || !h.Masked || h.Length < 0 {
			return 0, nil, errProtocol
		}
		if h.OpCode.IsControl() {
			if h.OpCode.IsReserved() || !h.Fin || h.Length > int64(len(fr.ctl)) {
				return 0, nil, errProtocol
			}
			p := fr.ctl[:h.Length]
			if _, err := io.ReadFull(fr.r, p); err != nil {
				return 0, nil, err
			}
			ws.Cipher(p, h.Mask, 0)
			return h.OpCode, p, nil
		}
		switch h.OpCode {
		case ws.OpContinuation:
			if fr.fragOp == 0 {
				return 0, nil, errProtocol
			}
		case ws.OpText, ws.OpBinary:
			if fr.fragOp != 0 {
				return 0, nil, errProtocol
			}
			fr.fragOp = h.OpCode
			fr.take()
		default:
			return 0, nil, errProtocol
		}
		buf := *fr.msg
		n := len(buf)
		if h.Length > int64(fr.max-n) {
			fr.skip = h.Length
			return 0, nil, errTooLarge
		}
		buf = slices.Grow(buf, int(h.Length))[:n+int(h.Length)]
		*fr.msg = buf
		if _, err := io.ReadFull(fr.r, buf[n:]); err != nil {
			return 0, nil, err
		}
		ws.Cipher(buf[n:], h.Mask, 0)
		if h.Fin {
			op := fr.fragOp
			fr.fragOp = 0
			return op, buf, nil
		}
	}
}

// take gets a message buffer from the pool.
func (fr *frameReader) take() {
	if fr.msg == nil {
		fr.msg = msgPool.Get().(*[]byte)
	}
	*fr.msg = (*fr.msg)[:0]
}

// release returns the message buffer between messages.
func (fr *frameReader) release() {
	if fr.msg != nil && fr.fragOp == 0 {
		if cap(*fr.msg) <= 64<<10 {
			msgPool.Put(fr.msg)
		}
		fr.msg = nil
	}
}

// command is a client payload: its opcode and the raw "d". D aliases the
// message buffer: handlers decode it before returning.
type command struct {
	Op int
	D  json.RawMessage
}

// parseCommand decodes {"op": int, "d": any}; anything else is ErrDecode.
func parseCommand(p []byte) (command, error) {
	var raw struct {
		Op *int            `json:"op"`
		D  json.RawMessage `json:"d"`
	}
	if err := json.Unmarshal(p, &raw); err != nil || raw.Op == nil {
		return command{}, ErrDecode
	}
	return command{Op: *raw.Op, D: raw.D}, nil
}

// decodeData decodes a command's "d" object into v: ErrDecode when it is
// missing, not an object or of the wrong shape.
func decodeData(d json.RawMessage, v any) error {
	d = bytes.TrimSpace(d)
	if len(d) == 0 || d[0] != '{' {
		return ErrDecode
	}
	if err := json.Unmarshal(d, v); err != nil {
		return ErrDecode
	}
	return nil
}
