package gateway

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// client is a raw WebSocket gateway client for tests.
type client struct {
	t  testing.TB
	nc net.Conn
	br io.Reader

	zlib bool
	zin  zlibFeed
	zr   io.Reader
	dec  *json.Decoder
}

// gwMsg is a gateway payload as received.
type gwMsg struct {
	Op int             `json:"op"`
	T  *string         `json:"t"`
	S  *int64          `json:"s"`
	D  json.RawMessage `json:"d"`
	// Close is the close code when the server closed (Op is -1).
	Close int `json:"-"`
}

func (m gwMsg) typ() string {
	if m.T == nil {
		return ""
	}
	return *m.T
}

func (m gwMsg) data(t testing.TB) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(m.D, &out); err != nil {
		t.Fatalf("d of %s: %v: %s", m.typ(), err, m.D)
	}
	return out
}

// dial connects to url (with query) and returns the client; it does not
// read Hello.
func dial(t testing.TB, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, br, _, err := ws.Dialer{}.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	c := &client{t: t, nc: nc, br: nc}
	if br != nil {
		c.br = io.MultiReader(br, nc)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return c
}

// connect dials the default v10 JSON gateway and reads Hello.
func (e *env) connect(t testing.TB) *client {
	t.Helper()
	c := dial(t, e.wsURL+"?v=10&encoding=json")
	c.expectOp(opHello)
	return c
}

func (c *client) sendRaw(p []byte) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.nc, p); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

func (c *client) send(op int, d any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"op": op, "d": d})
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(b)
}

// next reads the next payload, or the close code. It fails the test after
// timeout.
func (c *client) next(timeout time.Duration) gwMsg {
	c.t.Helper()
	m, err := c.read(timeout)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return m
}

func (c *client) read(timeout time.Duration) (gwMsg, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return gwMsg{}, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return gwMsg{}, err
		}
		switch h.OpCode {
		case ws.OpClose:
			code := 1005
			if len(p) >= 2 {
				code = int(binary.BigEndian.Uint16(p))
			}
			return gwMsg{Op: -1, Close: code}, nil
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpBinary:
			if !c.zlib {
				return gwMsg{}, errors.New("unexpected binary frame")
			}
			return c.inflate(p)
		case ws.OpText:
			var m gwMsg
			if err := json.Unmarshal(p, &m); err != nil {
				return gwMsg{}, err
			}
			return m, nil
		}
	}
}

// zlibFeed hands the inflater the bytes of one frame at a time.
type zlibFeed struct{ buf bytes.Buffer }

func (f *zlibFeed) Read(p []byte) (int, error) {
	if f.buf.Len() == 0 {
		return 0, errors.New("zlib-stream: message incomplete")
	}
	return f.buf.Read(p)
}

// inflate decodes one zlib-stream message (it must end with the sync flush
// marker) with a real zlib reader over the whole stream.
func (c *client) inflate(p []byte) (gwMsg, error) {
	if !bytes.HasSuffix(p, []byte{0, 0, 0xff, 0xff}) {
		return gwMsg{}, errors.New("zlib-stream frame without Z_SYNC_FLUSH suffix")
	}
	c.zin.buf.Write(p)
	if c.zr == nil {
		zr, err := zlib.NewReader(&c.zin)
		if err != nil {
			return gwMsg{}, err
		}
		c.zr = zr
		c.dec = json.NewDecoder(zr)
	}
	var m gwMsg
	if err := c.dec.Decode(&m); err != nil {
		return gwMsg{}, err
	}
	return m, nil
}

// expectOp reads the next payload, which must be op (presence updates,
// which arrive whenever someone comes and goes, are skipped).
func (c *client) expectOp(op int) gwMsg {
	c.t.Helper()
	m := c.next(5 * time.Second)
	for m.Op == opDispatch && m.typ() == "PRESENCE_UPDATE" && op != opDispatch {
		m = c.next(5 * time.Second)
	}
	if m.Op != op {
		c.t.Fatalf("op %d (t %q, close %d, d %s), want op %d", m.Op, m.typ(), m.Close, m.D, op)
	}
	return m
}

// expectClose reads until the server closes, checks the code and answers
// with a close frame, as clients do.
func (c *client) expectClose(code int) {
	c.t.Helper()
	for {
		m, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for close %d: %v", code, err)
		}
		if m.Op == -1 {
			if m.Close != code {
				c.t.Fatalf("closed with %d, want %d", m.Close, code)
			}
			_ = writeClientClose(c, code)
			return
		}
	}
}

// dispatch reads dispatches until one of type typ, skipping the types in
// skip and presence updates; any other dispatch fails the test.
func (c *client) dispatch(typ string, skip ...string) gwMsg {
	c.t.Helper()
	if typ != "PRESENCE_UPDATE" {
		skip = append(skip, "PRESENCE_UPDATE")
	}
	for {
		m := c.next(5 * time.Second)
		if m.Op == opDispatch && m.typ() == typ {
			return m
		}
		ok := m.Op == opHeartbeatACK
		for _, s := range skip {
			ok = ok || m.typ() == s
		}
		if !ok {
			c.t.Fatalf("got op %d %q (close %d) %s while waiting for %s", m.Op, m.typ(), m.Close, m.D, typ)
		}
	}
}

// identify sends Identify with the given extra fields and reads READY.
func (c *client) identify(tok string, extra map[string]any) gwMsg {
	c.t.Helper()
	d := map[string]any{"token": tok, "properties": map[string]string{"os": "linux", "browser": "test", "device": "test"}}
	for k, v := range extra {
		d[k] = v
	}
	c.send(opIdentify, d)
	return c.dispatch("READY")
}
