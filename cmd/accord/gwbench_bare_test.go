package main

import (
	"bufio"
	"bytes"
	be "encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/gobwas/ws"
)

// bareEnv, set in the environment of the test binary, makes it the bare
// broadcast server instead of running tests (see TestMain).
const bareEnv = "ACCORD_BENCH_BARE_BROADCAST"

// runBareBroadcast is the gateway benchmark's ceiling: a minimal gobwas/ws
// server, in a process of its own as accord is, that writes one
// pre-compiled frame per message to every connection.
//
// It prints "ws=ADDR ctl=ADDR" and serves WebSocket upgrades on ws. Its one
// control connection sends the template payload (a MESSAGE_CREATE as accord
// sent it, 4-byte length first), then a stream of 4-byte message indexes:
// for each, the server writes the index into the template's content (same
// width), compiles the frame once and writes it to every connection, in
// turn, one write each. It exits when the control connection closes.
func runBareBroadcast() int {
	wsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctlLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("ws=%s ctl=%s\n", wsLn.Addr(), ctlLn.Addr())

	var mu sync.Mutex // guards conns
	var conns []net.Conn
	go func() {
		for {
			nc, err := wsLn.Accept()
			if err != nil {
				return
			}
			go func() {
				if _, err := ws.Upgrade(nc); err != nil {
					_ = nc.Close()
					return
				}
				mu.Lock()
				conns = append(conns, nc)
				mu.Unlock()
			}()
		}
	}()

	ctl, err := ctlLn.Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r := bufio.NewReader(ctl)
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return 1
	}
	template := make([]byte, be.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(r, template); err != nil {
		return 1
	}
	at := bytes.Index(template, []byte(contentMarker))
	if at < 0 {
		fmt.Fprintln(os.Stderr, "bare: template has no benchmark content")
		return 1
	}
	at += len(contentMarker)
	payload := bytes.Clone(template)
	for {
		if _, err := io.ReadFull(r, n[:]); err != nil {
			break
		}
		copy(payload[at:], fmt.Sprintf("%0*d", msgIndexDigits, be.BigEndian.Uint32(n[:])))
		frame, err := ws.CompileFrame(ws.NewTextFrame(payload))
		if err != nil {
			return 1
		}
		mu.Lock()
		list := conns
		mu.Unlock()
		for _, nc := range list {
			_, _ = nc.Write(frame)
		}
	}
	mu.Lock()
	for _, nc := range conns {
		_ = nc.Close()
	}
	mu.Unlock()
	return 0
}
