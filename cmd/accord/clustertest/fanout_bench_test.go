package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// BenchmarkClusterFanout measures fan-out across nodes next to one node,
// in one run: the same number of gateway connections (users × sessions)
// watching one channel, first all on a single node, then spread over three
// nodes, while REST senders post into the channel through every node. It
// prints messages/s, deliveries/s (MESSAGE_CREATEs received by all
// connections per second) and the remote messages per event.
//
//	go test -run '^$' -bench ClusterFanout -benchtime 1x ./cmd/accord/clustertest/
func BenchmarkClusterFanout(b *testing.B) {
	const users, sessions, window = 30, 10, 5 * time.Second
	var rows []string
	for _, size := range []int{1, 3} {
		c := startCluster(b, size)
		owner := c.register(c.nodes[0], "owner")
		var members []user
		for i := range users {
			members = append(members, c.register(c.nodes[i%size], "fan"+strconv.Itoa(i)))
		}
		_, channel := c.guildWith(c.nodes[0], owner, members...)
		var received atomic.Int64
		var conns []*countingConn
		for i, u := range members {
			for s := range sessions {
				n := c.nodes[(i*sessions+s)%size]
				cc, err := dialCounting(n.wsURL(), u, &received)
				if err != nil {
					b.Fatalf("connect: %v", err)
				}
				conns = append(conns, cc)
			}
		}
		// Every connection is identified and has its GUILD_CREATE.
		eventually(b, 60*time.Second, func() string {
			for _, cc := range conns {
				if !cc.ready.Load() {
					return "connections still identifying"
				}
			}
			return ""
		})
		remoteBefore := c.sumMetric("accord_fanout_remote_messages_total")
		received.Store(0)
		var sent atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		start := time.Now()
		for w := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; ; k++ {
					select {
					case <-stop:
						return
					default:
					}
					n := c.nodes[(w+k)%size]
					u := members[(w+k)%len(members)]
					r, err := n.try("POST", "/api/v10/channels/"+channel+"/messages", u.auth,
						map[string]string{"content": "fan " + strconv.Itoa(w) + "/" + strconv.Itoa(k)})
					if err == nil && r.status == http.StatusOK {
						sent.Add(1)
					}
				}
			}()
		}
		time.Sleep(window)
		close(stop)
		wg.Wait()
		sendTime := time.Since(start)
		want := sent.Load() * int64(len(conns))
		deadline := time.Now().Add(30 * time.Second)
		for received.Load() < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		got := received.Load()
		remote := c.sumMetric("accord_fanout_remote_messages_total") - remoteBefore
		rows = append(rows, fmt.Sprintf("| %d | %d | %.0f | %.0f | %d of %d | %.2f |", size, len(conns),
			float64(sent.Load())/sendTime.Seconds(), float64(got)/elapsed.Seconds(), got, want,
			remote/float64(max(sent.Load(), 1))))
		for _, cc := range conns {
			cc.close()
		}
		for _, n := range c.nodes {
			n.kill()
		}
	}
	b.Logf("\n| nodes | connections | messages/s | deliveries/s | delivered | remote messages per event |\n"+
		"| --- | --- | --- | --- | --- | --- |\n%s\n%s", rows[0], rows[1])
}

// countingConn is a gateway client that only counts MESSAGE_CREATEs.
type countingConn struct {
	conn  io.ReadWriteCloser
	ready atomic.Bool
	done  chan struct{}
}

func dialCounting(url string, u user, count *atomic.Int64) (*countingConn, error) {
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
	ident := fmt.Sprintf(`{"op":2,"d":{"token":%q,"properties":{"os":"linux","browser":"bench","device":"bench"}}}`,
		u.auth[len("Bearer "):])
	if err := wsutil.WriteClientText(conn, []byte(ident)); err != nil {
		conn.Close()
		return nil, err
	}
	cc := &countingConn{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(cc.done)
		buf := make([]byte, 64<<10)
		for {
			h, err := ws.ReadHeader(rd)
			if err != nil {
				return
			}
			if int(h.Length) > len(buf) {
				buf = make([]byte, h.Length)
			}
			p := buf[:h.Length]
			if _, err := io.ReadFull(rd, p); err != nil {
				return
			}
			switch {
			case bytes.Contains(p, []byte(`"t":"MESSAGE_CREATE"`)):
				count.Add(1)
			case bytes.Contains(p, []byte(`"t":"GUILD_CREATE"`)):
				cc.ready.Store(true)
			}
		}
	}()
	return cc, nil
}

func (cc *countingConn) close() {
	_ = cc.conn.Close()
	<-cc.done
}
