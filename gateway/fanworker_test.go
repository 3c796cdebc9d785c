package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/accordchat/accord/actors"
)

// TestFanoutWorkersKeepOrder publishes from several goroutines at once,
// through workers whose queues are tiny (so publishers wait for room), to
// sessions spread over every worker, each with a real socket, one of them
// reading slowly enough for its writes to fall back to the writer
// goroutine: every client must get every event once, each publisher's
// events in the order they were published, with contiguous sequence
// numbers, and its replay buffer must hold the same events.
func TestFanoutWorkersKeepOrder(t *testing.T) {
	const (
		users      = 24
		publishers = 3
		perPub     = 400
	)
	s := stubServer(func(c *Config) {
		c.FanoutWorkers = 4
		c.FanoutQueue = 2
		c.QueueLimit = 1 << 20
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type got struct {
		pub, n int
		seq    int64
	}
	results := make([]chan []got, users)
	sessions := make([]*session, users)
	recipients := make([]int64, users)
	workersUsed := map[int]bool{}
	for i := range users {
		client, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		server, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// A small send buffer and a client that pauses: writes
			// to it fill the socket and continue in the writer
			// goroutine. (A tiny receive buffer too makes loopback TCP
			// stall for seconds.)
			_ = server.(*net.TCPConn).SetWriteBuffer(8192)
		}
		uid := int64(1000 + i*7919)
		workersUsed[s.fan.workerOf(uid)] = true
		c := newConn(s, server, nil)
		t.Cleanup(c.cleanup)
		ss := &session{id: newSessionID(""), userID: uid, intents: IntentsAll, shardCount: 1, conn: c}
		ss.replay.max = publishers * perPub
		c.sess = ss
		s.sessions.add(ss)
		sessions[i], recipients[i] = ss, uid
		results[i] = make(chan []got, 1)
		go func() {
			defer client.Close()
			var out []got
			br := bufio.NewReader(client)
			for len(out) < publishers*perPub {
				if i == 0 && len(out)%100 == 0 {
					time.Sleep(5 * time.Millisecond)
				}
				h, err := ws.ReadHeader(br)
				if err != nil {
					t.Errorf("client %d after %d events: %v", i, len(out), err)
					break
				}
				p := make([]byte, h.Length)
				if _, err := io.ReadFull(br, p); err != nil {
					t.Errorf("client %d after %d events: %v", i, len(out), err)
					break
				}
				var m struct {
					S int64 `json:"s"`
					D struct {
						Pub, N int
					} `json:"d"`
				}
				if err := json.Unmarshal(p, &m); err != nil {
					t.Errorf("client %d: %v: %s", i, err, p)
					break
				}
				out = append(out, got{pub: m.D.Pub, n: m.D.N, seq: m.S})
			}
			results[i] <- out
		}()
	}
	if len(workersUsed) < 2 {
		t.Fatalf("the users landed on %d worker(s)", len(workersUsed))
	}

	pad := strings.Repeat("x", 1000)
	var wg sync.WaitGroup
	for pub := range publishers {
		wg.Go(func() {
			for n := range perPub {
				// A fresh slice each time, reused by the caller after
				// Publish returns, as a grain may.
				rs := append([]int64(nil), recipients...)
				s.Publish(actors.Event{Type: "TYPING_START", Recipients: rs,
					Data: fmt.Appendf(nil, `{"Pub":%d,"N":%d,"pad":"%s"}`, pub, n, pad)})
				clear(rs)
			}
		})
	}
	wg.Wait()

	for i, ch := range results {
		var out []got
		select {
		case out = <-ch:
		case <-time.After(20 * time.Second):
			t.Fatalf("client %d: timed out", i)
		}
		if len(out) != publishers*perPub {
			t.Fatalf("client %d got %d events, want %d", i, len(out), publishers*perPub)
		}
		next := make([]int, publishers)
		for k, g := range out {
			if g.seq != int64(k+1) {
				t.Fatalf("client %d: event %d has seq %d", i, k, g.seq)
			}
			if g.n != next[g.pub] {
				t.Fatalf("client %d: publisher %d's event %d came when %d was due", i, g.pub, g.n, next[g.pub])
			}
			next[g.pub]++
		}
		ss := sessions[i]
		ss.mu.Lock()
		kept, ok := ss.replay.after(0)
		ss.mu.Unlock()
		if !ok || len(kept) != len(out) {
			t.Fatalf("client %d: replay keeps %d (ok %v), want %d", i, len(kept), ok, len(out))
		}
		for k, f := range kept {
			if f.seq != out[k].seq {
				t.Fatalf("client %d: replay %d has seq %d, want %d", i, k, f.seq, out[k].seq)
			}
		}
	}
	if s.partialWrites.Load() == 0 {
		t.Error("no write fell back to the writer goroutine")
	}
	if s.fanoutWaits.Load() == 0 {
		t.Error("publishers never waited for room in a queue of 2")
	}
}
