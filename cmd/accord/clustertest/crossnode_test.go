package clustertest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestCrossNode runs three real nodes on one PostgreSQL with one user's
// gateway connection on each: messages reach every node's sockets with one
// remote message per event and other node hosting recipients; presence is
// cluster-wide; a session resumes on another node with exactly the
// dispatches it missed; a node drained with SIGTERM hands its sessions over.
func TestCrossNode(t *testing.T) {
	c := startCluster(t, 3)
	n1, n2, n3 := c.nodes[0], c.nodes[1], c.nodes[2]
	alice, bob, carol := c.register(n1, "alice"), c.register(n2, "bob"), c.register(n3, "carol")
	_, general := c.guildWith(n1, alice, bob, carol)

	ca, cb, cc := dial(t, n1.wsURL(), alice), dial(t, n2.wsURL(), bob), dial(t, n3.wsURL(), carol)
	ca.identify(1)
	cb.identify(1)
	cc.identify(1)

	post := func(n *node, u user, content string) {
		t.Helper()
		n.must(200, "POST", "/api/v10/channels/"+general+"/messages", u.auth, map[string]string{"content": content})
	}

	t.Run("fan-out", func(t *testing.T) {
		// Let the presence updates of the three logins settle first.
		var before float64
		eventually(t, 10*time.Second, func() string {
			a := c.sumMetric("accord_fanout_remote_messages_total")
			time.Sleep(300 * time.Millisecond)
			before = c.sumMetric("accord_fanout_remote_messages_total")
			if a != before {
				return "remote messages still changing"
			}
			return ""
		})
		const k = 10
		for i := range k {
			post(n1, alice, "hello "+strconv.Itoa(i))
		}
		for _, cl := range []*gwClient{ca, cb, cc} {
			for i := range k {
				f, _ := cl.until("MESSAGE_CREATE", 0, 10*time.Second)
				if got, want := messageContent(f), "hello "+strconv.Itoa(i); got != want {
					t.Fatalf("%s got %q, want %q", cl.u.name, got, want)
				}
			}
		}
		// The channel grain lives on one node; the two others host
		// recipients: two remote messages per event, not one per recipient.
		if got := c.sumMetric("accord_fanout_remote_messages_total") - before; got != 2*k {
			t.Fatalf("remote messages for %d events: %v, want %d", k, got, 2*k)
		}
	})

	t.Run("presence", func(t *testing.T) {
		if err := cc.send(3, map[string]any{"status": "dnd", "since": nil, "activities": []any{}, "afk": false}); err != nil {
			t.Fatal(err)
		}
		for _, cl := range []*gwClient{ca, cb} {
			for {
				f, _ := cl.until("PRESENCE_UPDATE", 0, 10*time.Second)
				var p struct {
					User   struct{ ID string } `json:"user"`
					Status string              `json:"status"`
				}
				_ = json.Unmarshal(f.D, &p)
				if p.User.ID == carol.id && p.Status == "dnd" {
					break
				}
			}
		}
	})

	t.Run("resume on another node", func(t *testing.T) {
		session, seq := cb.state()
		cb.drop()
		for i := range 3 {
			post(n1, alice, "missed "+strconv.Itoa(i))
		}
		cb = dial(t, n3.wsURL(), bob)
		if err := cb.resume(session, seq); err != nil {
			t.Fatal(err)
		}
		resumed, replay := cb.until("RESUMED", 0, 10*time.Second)
		var got []string
		next := seq + 1
		for _, f := range replay {
			if f.S != next {
				t.Fatalf("replayed seq %d, want %d", f.S, next)
			}
			next++
			if f.T == "MESSAGE_CREATE" {
				got = append(got, messageContent(f))
			}
		}
		if resumed.S != next {
			t.Fatalf("RESUMED seq %d, want %d", resumed.S, next)
		}
		if fmt.Sprint(got) != "[missed 0 missed 1 missed 2]" {
			t.Fatalf("replayed messages %v", got)
		}
		// Live events follow the session to its new node.
		post(n2, carol, "after resume")
		f, between := cb.until("MESSAGE_CREATE", 0, 10*time.Second)
		if messageContent(f) != "after resume" || f.S != resumed.S+int64(len(between))+1 {
			t.Fatalf("after resume: %q seq %d (RESUMED %d, %d dispatches between)", messageContent(f), f.S,
				resumed.S, len(between))
		}
		// The old node gave the session up: resuming there again works
		// only through a new hand-over, and an unknown session gets op 9.
		bad := dial(t, n2.wsURL(), bob)
		if err := bad.resume(n1SessionPrefix(session)+"0000000000000000000000ff", 0); err != nil {
			t.Fatal(err)
		}
		if f, _ := bad.until("", 9, 10*time.Second); string(f.D) != "false" {
			t.Fatalf("op 9 d = %s", f.D)
		}
	})

	t.Run("drain hands sessions over", func(t *testing.T) {
		// alice is on n1; SIGTERM it while carol keeps sending from n3.
		stop := make(chan struct{})
		sent := make(chan int, 1)
		go func() {
			i := 0
			defer func() { sent <- i }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if r, err := n3.try("POST", "/api/v10/channels/"+general+"/messages", carol.auth,
					map[string]string{"content": "drain " + strconv.Itoa(i)}); err == nil && r.status == 200 {
					i++
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		time.Sleep(200 * time.Millisecond)
		go n1.term(30 * time.Second)
		_, before := ca.until("", 7, 15*time.Second)
		session, seq := ca.state()
		ca.drop()
		ca = dial(t, n2.wsURL(), alice)
		if err := ca.resume(session, seq); err != nil {
			t.Fatal(err)
		}
		_, replay := ca.until("RESUMED", 0, 10*time.Second)
		time.Sleep(300 * time.Millisecond)
		close(stop)
		total := <-sent
		// Every acknowledged message arrives exactly once, in order,
		// across the two connections.
		var got []string
		for _, f := range append(before, replay...) {
			if f.T == "MESSAGE_CREATE" {
				got = append(got, messageContent(f))
			}
		}
		for len(got) < total+countPrefix(got) {
			f, _ := ca.until("MESSAGE_CREATE", 0, 10*time.Second)
			got = append(got, messageContent(f))
		}
		want := 0
		for _, s := range got {
			if len(s) < 6 || s[:6] != "drain " {
				continue
			}
			if s != "drain "+strconv.Itoa(want) {
				t.Fatalf("after drain got %q, want %q (all: %v)", s, "drain "+strconv.Itoa(want), got)
			}
			want++
		}
		if want != total {
			t.Fatalf("received %d of %d drain messages", want, total)
		}
		<-n1.done
	})
}

// n1SessionPrefix keeps a session id's node tag.
func n1SessionPrefix(session string) string { return session[:8] }

// countPrefix counts the entries that are not drain messages.
func countPrefix(got []string) int {
	k := 0
	for _, s := range got {
		if len(s) < 6 || s[:6] != "drain " {
			k++
		}
	}
	return k
}
