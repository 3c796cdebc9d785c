package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/accordchat/accord/actors"
)

// benchMessage is a typical MESSAGE_CREATE payload (~600 bytes).
var benchMessage = []byte(`{"id":"1575234646273167360","channel_id":"1575234646172504065","guild_id":"1575234646168309760",` +
	`"author":{"id":"1575234646155726848","username":"someone","discriminator":"0129","global_name":null,"avatar":null,` +
	`"bot":false,"system":false,"public_flags":0,"flags":0},"member":{"nick":null,"avatar":null,"roles":[],` +
	`"joined_at":"2026-11-25T19:40:06.091Z","premium_since":null,"deaf":false,"mute":false,"flags":0,"pending":false,` +
	`"communication_disabled_until":null},"content":"` + strings.Repeat("hello ", 20) + `","timestamp":"2026-11-25T19:40:06.116Z",` +
	`"edited_timestamp":null,"tts":false,"mention_everyone":false,"mentions":[],"mention_roles":[],"attachments":[],` +
	`"embeds":[],"pinned":false,"type":0,"flags":0}`)

// BenchmarkFanout publishes one MESSAGE_CREATE to n identified sessions,
// each with a real loopback TCP connection drained by a reader; the time
// includes writing every frame to the sockets. deliveries/s is frames
// written per second.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("recipients=%d", n), func(b *testing.B) { benchFanout(b, n) })
	}
}

func benchFanout(b *testing.B, n int) {
	s := stubServer(func(c *Config) { c.QueueLimit = 1 << 22 })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conns := make([]*conn, n)
	recipients := make([]int64, n)
	for i := range n {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		go func() { _, _ = io.Copy(io.Discard, client); client.Close() }()
		c := newConn(s, server, nil)
		ss := &session{id: newSessionID(""), userID: int64(i + 1), intents: IntentsAll, shardCount: 1, conn: c}
		ss.replay.max = s.cfg.ReplayLimit
		c.sess = ss
		s.sessions.add(ss)
		conns[i], recipients[i] = c, int64(i+1)
	}
	ev := actors.Event{Type: "MESSAGE_CREATE", GuildID: 1, ChannelID: 2, Data: benchMessage, Recipients: recipients}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.Publish(ev)
	}
	s.fan.syncAll()
	for _, c := range conns {
		c.mu.Lock()
		for c.writing {
			c.idle.Wait()
		}
		c.mu.Unlock()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)*float64(n)/b.Elapsed().Seconds(), "deliveries/s")
	for _, c := range conns {
		c.cleanup()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}
