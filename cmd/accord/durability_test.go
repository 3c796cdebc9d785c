package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// chatFixture registers a user and makes a guild on n, returning the
// access token and #general's id.
func chatFixture(t *testing.T, n *node) (auth, channel string) {
	t.Helper()
	reg := n.expect(n.do("POST", "/api/auth/register", "", map[string]string{
		"username": "writer", "email": "writer@example.com", "password": "durable-words"}), 201)
	auth = "Bearer " + str(reg.body, "access_token")
	g := n.expect(n.do("POST", "/api/v10/guilds", auth, map[string]any{"name": "Durable"}), 201)
	return auth, str(g.body, "system_channel_id")
}

// load sends messages from workers until stop is closed, recording the ids
// of every 200 and counting everything else.
func load(n *node, auth, channel string, workers int, stop <-chan struct{}) (acked *sync.Map, ok, failed *atomic.Int64, wait func()) {
	acked, ok, failed = &sync.Map{}, &atomic.Int64{}, &atomic.Int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := n.tryDo("POST", "/api/v10/channels/"+channel+"/messages", auth, map[string]any{"content": fmt.Sprintf("w%d m%d", w, i)})
				if err != nil || r.status != 200 {
					failed.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				acked.Store(str(r.body, "id"), true)
				ok.Add(1)
			}
		})
	}
	return acked, ok, failed, wg.Wait
}

// stored pages through the channel's whole history.
func stored(t *testing.T, n *node, auth, channel string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	before := ""
	for range 10000 {
		path := "/api/channels/" + channel + "/messages?limit=100"
		if before != "" {
			path += "&before=" + before
		}
		r := n.expect(n.do("GET", path, auth, nil), 200)
		msgs, _ := r.body["messages"].([]any)
		for _, m := range msgs {
			out[str(m.(map[string]any), "id")] = true
		}
		if r.body["has_more"] != true {
			return out
		}
		before = str(r.body["cursor"].(map[string]any), "before")
	}
	t.Fatal("history did not end")
	return nil
}

func missing(acked *sync.Map, have map[string]bool) (n, total int) {
	acked.Range(func(k, _ any) bool {
		total++
		if !have[k.(string)] {
			n++
		}
		return true
	})
	return n, total
}

// TestAckedMessagesSurviveSIGKILL kills the node while senders are busy:
// every message answered 200 before the kill is in history after a restart.
func TestAckedMessagesSurviveSIGKILL(t *testing.T) {
	dir := tempDir(t)
	n := startNode(t, dir)
	auth, channel := chatFixture(t, n)
	stop := make(chan struct{})
	acked, ok, _, wait := load(n, auth, channel, 16, stop)
	deadline := time.Now().Add(30 * time.Second)
	for ok.Load() < 300 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	n.kill() // mid-load: some sends are in flight
	close(stop)
	wait()
	n = startNode(t, dir)
	lost, total := missing(acked, stored(t, n, auth, channel))
	t.Logf("acknowledged %d before SIGKILL; lost %d", total, lost)
	if total < 300 || lost != 0 {
		t.Fatalf("acknowledged %d, lost %d after SIGKILL", total, lost)
	}
	n.stop()
}

// TestPostgresStopMidLoad stops the node's PostgreSQL under load: sends
// fail with errors, and nothing that was acknowledged is missing once the
// database is back.
func TestPostgresStopMidLoad(t *testing.T) {
	pgCtl, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(pgCtl) == 0 {
		t.Skip("no pg_ctl in /usr/lib/postgresql/*/bin")
	}
	dir := tempDir(t)
	n := startNode(t, dir)
	auth, channel := chatFixture(t, n)
	stop := make(chan struct{})
	acked, ok, failed, wait := load(n, auth, channel, 8, stop)
	for deadline := time.Now().Add(30 * time.Second); ok.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	args := []string{pgCtl[len(pgCtl)-1], "stop", "-m", "immediate", "-D", filepath.Join(dir, "pg")}
	if os.Geteuid() == 0 {
		owner := "postgres"
		if _, err := user.Lookup(owner); err != nil {
			owner = "accord"
		}
		args = append([]string{"runuser", "-u", owner, "--"}, args...)
	}
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("stopping PostgreSQL: %v\n%s", err, out)
	}
	okAtStop := ok.Load()
	time.Sleep(2 * time.Second)
	close(stop)
	wait()
	if failed.Load() == 0 {
		t.Fatal("no send failed while PostgreSQL was down")
	}
	// A few sends may have been committing when the server died; none can
	// be acknowledged long after.
	if late := ok.Load() - okAtStop; late > 16 {
		t.Fatalf("%d sends acknowledged after PostgreSQL stopped", late)
	}
	n.kill()
	n = startNode(t, dir)
	lost, total := missing(acked, stored(t, n, auth, channel))
	t.Logf("acknowledged %d, failed %d while PostgreSQL was down; lost %d", total, failed.Load(), lost)
	if lost != 0 {
		t.Fatalf("%d of %d acknowledged messages lost", lost, total)
	}
	n.stop()
}
