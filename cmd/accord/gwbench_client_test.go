package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// The gateway benchmark's clients: real WebSocket clients (gobwas/ws client
// side), kept as cheap as possible so that twenty thousand of them fit in
// the load generator. An idle client keeps only its socket.

// benchIntents are the intents every benchmark client identifies with:
// GUILDS, GUILD_MESSAGES and MESSAGE_CONTENT, as a typical bot asks. Without
// GUILD_PRESENCES the clients are not sent each other's presence changes,
// so an idle connection stays idle.
const benchIntents = 1<<0 | 1<<9 | 1<<15

// localIPs spreads client sockets over source addresses so that twenty
// thousand connections (plus what earlier runs left in TIME_WAIT) never run
// out of ephemeral ports towards the one server port.
var localIPs = func() []net.IP {
	out := make([]net.IP, 16)
	for i := range out {
		out[i] = net.IPv4(127, 0, 1, byte(i+1))
	}
	return out
}()

// dialWS opens a WebSocket to url from source address ip. The returned
// reader yields the server's frames, bytes that arrived with the handshake
// first.
func dialWS(ctx context.Context, url string, ip net.IP) (net.Conn, io.Reader, error) {
	d := ws.Dialer{
		Timeout: 10 * time.Second,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
			return nd.DialContext(ctx, network, addr)
		},
	}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = nc
	if br != nil {
		early, _ := br.Peek(br.Buffered())
		r = io.MultiReader(bytes.NewReader(bytes.Clone(early)), nc)
		ws.PutReader(br)
	}
	return nc, r, nil
}

// readFrame reads one server frame into buf (grown as needed).
func readFrame(r io.Reader, buf []byte) (ws.OpCode, []byte, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return 0, buf, err
	}
	if h.Length > 16<<20 {
		return 0, buf, fmt.Errorf("frame of %d bytes", h.Length)
	}
	if int64(cap(buf)) < h.Length {
		buf = make([]byte, h.Length)
	}
	buf = buf[:h.Length]
	if _, err := io.ReadFull(r, buf); err != nil {
		return 0, buf, err
	}
	return h.OpCode, buf, nil
}

// writeText sends p as one masked text frame.
func writeText(w io.Writer, p []byte) error {
	return ws.WriteFrame(w, ws.MaskFrameInPlace(ws.NewTextFrame(bytes.Clone(p))))
}

// identifyClient connects to the gateway at url and identifies with tok:
// Hello, Identify, then READY and guilds GUILD_CREATEs. It returns the
// socket and its reader.
func identifyClient(ctx context.Context, url, tok string, guilds int, ip net.IP) (net.Conn, io.Reader, error) {
	nc, r, err := dialWS(ctx, url, ip)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (net.Conn, io.Reader, error) {
		_ = nc.Close()
		return nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 0, 4096)
	var op ws.OpCode
	if op, buf, err = readFrame(r, buf); err != nil {
		return fail(fmt.Errorf("hello: %w", err))
	}
	if op != ws.OpText || !bytes.Contains(buf, []byte(`"op":10,`)) {
		return fail(fmt.Errorf("expected Hello, got %q", buf))
	}
	ident, _ := json.Marshal(map[string]any{"op": 2, "d": map[string]any{
		"token": tok, "intents": benchIntents,
		"properties": map[string]string{"os": "linux", "browser": "accord-bench", "device": "accord-bench"},
	}})
	if err := writeText(nc, ident); err != nil {
		return fail(err)
	}
	ready, created := false, 0
	for !ready || created < guilds {
		if op, buf, err = readFrame(r, buf); err != nil {
			return fail(fmt.Errorf("identify (ready %v, %d guilds): %w", ready, created, err))
		}
		switch {
		case op == ws.OpClose:
			return fail(fmt.Errorf("closed: %q", buf))
		case bytes.HasPrefix(buf, []byte(`{"t":"READY"`)):
			ready = true
		case bytes.HasPrefix(buf, []byte(`{"t":"GUILD_CREATE"`)):
			created++
		}
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, r, nil
}

// counter is one reading client's tally, on its own cache line.
type counter struct {
	n atomic.Int64
	_ [56]byte
}

// contentMarker precedes the message index in benchmark messages.
const contentMarker = `"content":"bench `

// msgIndexDigits is the fixed width of the index in a message's content,
// so that every message of a run encodes to the same length.
const msgIndexDigits = 8

// benchContent is the content of benchmark message i: the index and a
// little text, about the size of a chat line.
func benchContent(i int) string {
	return fmt.Sprintf("bench %0*d and some text to make it a typical chat line", msgIndexDigits, i)
}

// messageIndex finds the index in a MESSAGE_CREATE frame's payload; -1 if
// it is none.
func messageIndex(p []byte) int {
	if !bytes.HasPrefix(p, []byte(`{"t":"MESSAGE_CREATE"`)) {
		return -1
	}
	i := bytes.Index(p, []byte(contentMarker))
	if i < 0 || i+len(contentMarker)+msgIndexDigits > len(p) {
		return -1
	}
	n, err := strconv.Atoi(string(p[i+len(contentMarker) : i+len(contentMarker)+msgIndexDigits]))
	if err != nil {
		return -1
	}
	return n
}

// reader reads one client's frames until the socket closes, calling got
// with each benchmark message's index and payload.
func reader(nc net.Conn, r io.Reader, got func(idx int, p []byte)) error {
	br := bufio.NewReaderSize(r, 32<<10)
	buf := make([]byte, 0, 4096)
	for {
		op, p, err := readFrame(br, buf)
		buf = p[:0]
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if op == ws.OpClose {
			return fmt.Errorf("server closed the connection: %q", p)
		}
		if idx := messageIndex(p); idx >= 0 {
			got(idx, p)
		}
	}
}
