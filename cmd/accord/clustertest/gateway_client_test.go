package clustertest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// frame is one gateway payload a client received.
type frame struct {
	Op int             `json:"op"`
	T  string          `json:"t"`
	S  int64           `json:"s"`
	D  json.RawMessage `json:"d"`
}

// gwClient is a raw gateway client: it reads every payload into a channel
// from its own goroutine and remembers the session and last sequence.
type gwClient struct {
	t       testing.TB
	u       user
	conn    net.Conn
	frames  chan frame
	mu      sync.Mutex
	session string
	seq     int64
	closed  chan struct{}
	// closeCode is the server's close code, once closed.
	closeCode int
}

// dial opens a gateway connection and reads Hello.
func dial(t testing.TB, url string, u user) *gwClient {
	t.Helper()
	c, err := tryDial(t, url, u)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

func tryDial(t testing.TB, url string, u user) (*gwClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(ctx, url+"/?v=10&encoding=json")
	if err != nil {
		return nil, err
	}
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(br, conn)
	}
	c := &gwClient{t: t, u: u, conn: conn, frames: make(chan frame, 100000), closed: make(chan struct{})}
	go c.read(rd)
	hello, err := c.nextErr(10 * time.Second)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if hello.Op != 10 {
		conn.Close()
		return nil, fmt.Errorf("first payload op %d, want 10", hello.Op)
	}
	return c, nil
}

func (c *gwClient) read(rd io.Reader) {
	defer close(c.closed)
	defer close(c.frames)
	for {
		h, err := ws.ReadHeader(rd)
		if err != nil {
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rd, p); err != nil {
			return
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			if len(p) >= 2 {
				c.closeCode = int(binary.BigEndian.Uint16(p))
			}
			return
		case ws.OpText:
			var f frame
			if json.Unmarshal(p, &f) != nil {
				return
			}
			if f.Op == 0 {
				c.mu.Lock()
				if f.T == "READY" {
					var r struct {
						SessionID string `json:"session_id"`
					}
					_ = json.Unmarshal(f.D, &r)
					c.session = r.SessionID
				}
				c.seq = f.S
				c.mu.Unlock()
			}
			c.frames <- f
		}
	}
}

func (c *gwClient) send(op int, d any) error {
	b, _ := json.Marshal(map[string]any{"op": op, "d": d})
	return wsutil.WriteClientText(c.conn, b)
}

var errClosed = errors.New("connection closed")

func (c *gwClient) nextErr(within time.Duration) (frame, error) {
	select {
	case f, ok := <-c.frames:
		if !ok {
			return frame{}, fmt.Errorf("%w (code %d)", errClosed, c.closeCode)
		}
		return f, nil
	case <-time.After(within):
		return frame{}, fmt.Errorf("no payload within %v", within)
	}
}

// until reads payloads until one of type typ (op 0) or op (when typ is
// empty) arrives, returning it and the dispatches read on the way.
func (c *gwClient) until(typ string, op int, within time.Duration) (frame, []frame) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var seen []frame
	for {
		f, err := c.nextErr(time.Until(deadline))
		if err != nil {
			c.t.Fatalf("%s waiting for %q/op %d: %v (saw %d payloads)", c.u.name, typ, op, err, len(seen))
		}
		if (typ != "" && f.Op == 0 && f.T == typ) || (typ == "" && f.Op == op) {
			return f, seen
		}
		seen = append(seen, f)
	}
}

// identify sends Identify and waits for READY and the GUILD_CREATEs.
func (c *gwClient) identify(guilds int) {
	c.t.Helper()
	if err := c.send(2, map[string]any{"token": c.u.auth[len("Bearer "):],
		"properties": map[string]string{"os": "linux", "browser": "clustertest", "device": "clustertest"}}); err != nil {
		c.t.Fatal(err)
	}
	c.until("READY", 0, 15*time.Second)
	for range guilds {
		c.until("GUILD_CREATE", 0, 15*time.Second)
	}
}

// drop closes the TCP connection without a close frame.
func (c *gwClient) drop() {
	_ = c.conn.Close()
	<-c.closed
}

func (c *gwClient) state() (session string, seq int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session, c.seq
}

// resume sends Resume for the session and seq given.
func (c *gwClient) resume(session string, seq int64) error {
	return c.send(6, map[string]any{"token": c.u.auth[len("Bearer "):], "session_id": session, "seq": seq})
}

// messageContent is the content of a MESSAGE_CREATE.
func messageContent(f frame) string {
	var m struct {
		Content string `json:"content"`
	}
	_ = json.Unmarshal(f.D, &m)
	return m.Content
}
