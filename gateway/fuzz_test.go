package gateway

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// clientFrame is a masked client frame.
func clientFrame(op ws.OpCode, fin bool, p []byte) []byte {
	var buf bytes.Buffer
	f := ws.NewFrame(op, fin, append([]byte(nil), p...))
	f = ws.MaskFrameWith(f, [4]byte{1, 2, 3, 4})
	_ = ws.WriteFrame(&buf, f)
	return buf.Bytes()
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader and every text
// message it yields to the command parser and the commands' decoders: no
// input may panic, allocate past the payload limit, or yield a message over
// it.
func FuzzFrameReader(f *testing.F) {
	f.Add(clientFrame(ws.OpText, true, []byte(`{"op":1,"d":null}`)))
	f.Add(clientFrame(ws.OpText, true, []byte(`{"op":2,"d":{"token":"x","intents":513,"shard":[0,1],"presence":{"status":"idle","activities":[{}]}}}`)))
	f.Add(clientFrame(ws.OpText, true, []byte(`{"op":6,"d":{"token":"x","session_id":"s","seq":3}}`)))
	f.Add(clientFrame(ws.OpText, true, []byte(`{"op":8,"d":{"guild_id":["1","2"],"user_ids":"3","nonce":"n"}}`)))
	f.Add(append(clientFrame(ws.OpText, false, []byte(`{"op":`)), clientFrame(ws.OpContinuation, true, []byte(`1}`))...))
	f.Add(append(clientFrame(ws.OpPing, true, []byte("p")), clientFrame(ws.OpClose, true, []byte{3, 232})...))
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), 4096)
		for range 64 {
			op, p, err := fr.next()
			if err != nil {
				if errors.Is(err, errTooLarge) && fr.skip <= 0 {
					t.Fatal("errTooLarge without a payload to skip")
				}
				return
			}
			if len(p) > 4096 {
				t.Fatalf("message of %d bytes", len(p))
			}
			if op == ws.OpText {
				decodeCommand(p)
			}
			fr.release()
		}
	})
}

// decodeCommand runs p through every decoder a command meets.
func decodeCommand(p []byte) {
	cmd, err := parseCommand(p)
	if err != nil {
		return
	}
	var id identifyData
	if decodeData(cmd.D, &id) == nil && id.Presence != nil {
		id.Presence.state(time.Time{})
	}
	var rd resumeData
	_ = decodeData(cmd.D, &rd)
	var rm requestMembersData
	if decodeData(cmd.D, &rm) == nil {
		snowflakeList(rm.GuildID)
		snowflakeList(rm.UserIDs)
	}
}

// fuzzServer is one stub server for every fuzz input.
var (
	fuzzOnce sync.Once
	fuzzSrv  *Server
)

// FuzzCommands runs arbitrary command sequences (one JSON payload per line)
// through a connection's state machine over stand-ins for the node: every
// input ends in a close code or keeps the connection open, never a panic.
func FuzzCommands(f *testing.F) {
	f.Add([]byte("{\"op\":1,\"d\":null}\n{\"op\":2,\"d\":{\"token\":\"user\",\"properties\":{}}}\n{\"op\":3,\"d\":{\"status\":\"dnd\",\"activities\":[]}}"))
	f.Add([]byte("{\"op\":2,\"d\":{\"token\":\"Bot bot\",\"intents\":513}}\n{\"op\":8,\"d\":{\"guild_id\":\"10\",\"query\":\"\",\"limit\":0,\"presences\":true}}"))
	f.Add([]byte("{\"op\":6,\"d\":{\"token\":\"user\",\"session_id\":\"x\",\"seq\":0}}\n{\"op\":2,\"d\":{\"token\":\"user\"}}\n{\"op\":2,\"d\":{\"token\":\"user\"}}"))
	f.Add([]byte("{\"op\":3,\"d\":{}}\n{\"op\":99}"))
	f.Add([]byte("{\"op\":2,\"d\":{\"token\":\"bot\",\"intents\":32768,\"shard\":[3,2]}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzOnce.Do(func() { fuzzSrv = stubServer(nil) })
		nc := newNullConn()
		c := newConn(fuzzSrv, nc, nil)
		c.v = 10
		defer func() {
			nc.Close()
			c.cleanup()
		}()
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(line) > 4096 {
				return
			}
			if err := c.handle(line); err != nil {
				if ce := closeOf(err); ce.Code < 4000 || ce.Code > 4014 {
					t.Fatalf("close code %d", ce.Code)
				}
				return
			}
		}
	})
}

// TestFrameReaderLimits checks the reader's answers to frames clients get
// wrong.
func TestFrameReaderLimits(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 4097)
	unmasked := []byte{0x81, 1, 'x'}
	frag := append(clientFrame(ws.OpText, false, []byte(`{"op":`)), clientFrame(ws.OpContinuation, true, []byte(`1}`))...)
	pingInside := append(append(clientFrame(ws.OpText, false, []byte(`{"op":`)), clientFrame(ws.OpPing, true, nil)...),
		clientFrame(ws.OpContinuation, true, []byte(`1}`))...)
	longPing := clientFrame(ws.OpPing, true, bytes.Repeat([]byte("p"), 126))
	tests := []struct {
		name string
		in   []byte
		ops  []ws.OpCode
		err  error
	}{
		{name: "too large", in: clientFrame(ws.OpText, true, big), err: errTooLarge},
		{name: "fragments over the limit", in: append(clientFrame(ws.OpText, false, big[:4000]), clientFrame(ws.OpContinuation, true, big[:100])...), err: errTooLarge},
		{name: "unmasked", in: unmasked, err: errProtocol},
		{name: "fragments joined", in: frag, ops: []ws.OpCode{ws.OpText}, err: io.EOF},
		{name: "control frame between fragments", in: pingInside, ops: []ws.OpCode{ws.OpPing, ws.OpText}, err: io.EOF},
		{name: "control frame over 125 bytes", in: longPing, err: errProtocol},
		{name: "continuation first", in: clientFrame(ws.OpContinuation, true, []byte("x")), err: errProtocol},
		{name: "reserved opcode", in: clientFrame(ws.OpCode(3), true, []byte("x")), err: errProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fr := newFrameReader(bytes.NewReader(tc.in), 4096)
			var got []ws.OpCode
			for {
				op, p, err := fr.next()
				if err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("error %v, want %v", err, tc.err)
					}
					break
				}
				if op == ws.OpText && string(p) != `{"op":1}` {
					t.Fatalf("message %q", p)
				}
				got = append(got, op)
				fr.release()
			}
			if len(got) != len(tc.ops) {
				t.Fatalf("ops %v, want %v", got, tc.ops)
			}
		})
	}
}

// TestFrameReaderLargerLimit reads a message bigger than the pooled buffers
// when MaxPayload allows it.
func TestFrameReaderLargerLimit(t *testing.T) {
	msg := bytes.Repeat([]byte("b"), 6000)
	fr := newFrameReader(bytes.NewReader(clientFrame(ws.OpText, true, msg)), 10000)
	op, p, err := fr.next()
	if err != nil || op != ws.OpText || !bytes.Equal(p, msg) {
		t.Fatalf("op %v, %d bytes, err %v", op, len(p), err)
	}
	fr.release()
}
