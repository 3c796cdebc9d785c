package main

import (
	"context"
	encbin "encoding/binary"
	"encoding/json"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestGatewayOnTheNode checks the wiring of the real binary: /gateway is
// announced and served on the HTTP listener, a message sent over REST
// reaches the sender's socket, and SIGTERM sends op 7 before the node
// exits.
func TestGatewayOnTheNode(t *testing.T) {
	n := startNode(t, tempDir(t))
	reg := n.expect(n.do("POST", "/api/auth/register", "", map[string]string{
		"username": "grace", "email": "grace@example.com", "password": "correct horse"}), 201)
	access := str(reg.body, "access_token")
	g := n.expect(n.do("POST", "/api/v10/guilds", "Bearer "+access, map[string]string{"name": "Wiring"}), 201)
	url := str(n.expect(n.do("GET", "/api/v9/gateway", "", nil), 200).body, "url")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(ctx, url+"/?v=9&encoding=json")
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer conn.Close()
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(br, conn)
	}
	type payload struct {
		Op int             `json:"op"`
		T  string          `json:"t"`
		D  json.RawMessage `json:"d"`
	}
	// next returns the next text payload.
	next := func() payload {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			h, err := ws.ReadHeader(rd)
			if err != nil {
				t.Fatalf("read: %v\n%s", err, n.logs)
			}
			p := make([]byte, h.Length)
			if _, err := io.ReadFull(rd, p); err != nil {
				t.Fatal(err)
			}
			switch h.OpCode {
			case ws.OpClose:
				t.Fatalf("closed by the server (% x)\n%s", p, n.logs)
			case ws.OpText:
				var m payload
				if err := json.Unmarshal(p, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	if m := next(); m.Op != 10 {
		t.Fatalf("first payload op %d", m.Op)
	}
	ident, _ := json.Marshal(map[string]any{"op": 2, "d": map[string]any{"token": "Bot " + access, "intents": 513,
		"properties": map[string]string{"os": "linux"}}})
	if err := wsutil.WriteClientText(conn, ident); err != nil {
		t.Fatal(err)
	}
	want := []string{"READY", "GUILD_CREATE"}
	for _, typ := range want {
		if m := next(); m.T != typ {
			t.Fatalf("got op %d %q, want %s", m.Op, m.T, typ)
		}
	}
	chans := n.expect(n.do("GET", "/api/v10/guilds/"+str(g.body, "id")+"/channels", "Bearer "+access, nil), 200)
	var list []map[string]any
	_ = json.Unmarshal([]byte(chans.raw), &list)
	var general string
	for _, ch := range list {
		if ch["name"] == "general" {
			general = str(ch, "id")
		}
	}
	n.expect(n.do("POST", "/api/v10/channels/"+general+"/messages", "Bearer "+access, map[string]string{"content": "wired"}), 200)
	for {
		m := next()
		if m.T == "MESSAGE_CREATE" {
			break
		}
		if m.T != "PRESENCE_UPDATE" {
			t.Fatalf("got op %d %q waiting for MESSAGE_CREATE", m.Op, m.T)
		}
	}

	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	for {
		m := next()
		if m.Op == 7 {
			break
		}
		if m.Op != 0 {
			t.Fatalf("got op %d waiting for op 7", m.Op)
		}
	}
	// The client leaves, as discordgo does on op 7 (close 1012).
	_ = wsutil.WriteClientMessage(conn, ws.OpClose, encbin.BigEndian.AppendUint16(nil, 1012))
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM\n%s", n.logs)
	}
	if n.err != nil {
		t.Fatalf("exit: %v\n%s", n.err, n.logs)
	}
}
