package clustertest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The checker drives a cluster the way `make cluster-test` describes: gateway
// clients (watchers) spread over the nodes, senders offering a steady rate of
// messages through REST on every live node, and a fault in the middle. It
// records every send (acknowledged or not) and every MESSAGE_CREATE each
// watcher receives, then reads what PostgreSQL holds and counts what was
// lost, duplicated or out of order.
//
// Each phase (scenario) has channels of its own, so its counts cover its own
// messages only; watchers and their sessions run through all phases.

// sendRecord is one attempted send.
type sendRecord struct {
	content string
	channel string
	started time.Time
	acked   bool
	id      string
}

// received is one MESSAGE_CREATE a watcher got.
type received struct {
	id, content string
	seq         int64 // the dispatch's s
	conn        int   // which of the watcher's connections (see watcher.conns)
}

// recovery is a connection coming back (READY or RESUMED) after it went.
type recovery struct {
	at   time.Time
	took time.Duration
}

// gap is a window in which a watcher had no session (it lost it and
// identified again): events of that window are not expected.
type gap struct{ from, to time.Time }

// watcher is a gateway client that follows the cluster: on op 7 or a lost
// connection it resumes on another live node; on op 9 it identifies again.
type watcher struct {
	k    *checker
	u    user
	name string
	rot  int // index of the next node to try

	mu         sync.Mutex // guards the fields below
	got        map[string][]received
	session    string
	seq        int64
	firstReady time.Time
	downAt     time.Time // when the connection went; zero while up
	gaps       []gap
	recoveries []recovery
	resumes    int
	identifies int
	lostGapAt  time.Time // set on op 9: the session is gone until READY
	conns      []string  // each connection: node, resume or identify, when

	stop chan struct{}
	done chan struct{}
}

// checker runs the phases of one cluster.
type checker struct {
	t        testing.TB
	c        *testCluster
	owner    user
	guild    string
	senders  []user
	watchers []*watcher
}

func newChecker(t testing.TB, c *testCluster, watchersPerNode int) *checker {
	k := &checker{t: t, c: c}
	k.owner = c.register(c.nodes[0], "owner")
	var members []user
	for i := range len(c.nodes) * watchersPerNode {
		u := c.register(c.nodes[i%len(c.nodes)], "watcher"+strconv.Itoa(i))
		members = append(members, u)
	}
	for i := range 4 {
		members = append(members, c.register(c.nodes[i%len(c.nodes)], "sender"+strconv.Itoa(i)))
	}
	k.senders = members[len(members)-4:]
	k.guild, _ = c.guildWith(c.nodes[0], k.owner, members...)
	for i, u := range members[:len(members)-4] {
		w := &watcher{k: k, u: u, name: u.name, rot: i % len(c.nodes), got: map[string][]received{},
			stop: make(chan struct{}), done: make(chan struct{})}
		k.watchers = append(k.watchers, w)
		go w.run()
	}
	eventually(t, 30*time.Second, func() string {
		for _, w := range k.watchers {
			w.mu.Lock()
			ready := !w.firstReady.IsZero()
			w.mu.Unlock()
			if !ready {
				return w.name + " not ready"
			}
		}
		return ""
	})
	t.Cleanup(func() {
		for _, w := range k.watchers {
			close(w.stop)
			<-w.done
		}
	})
	return k
}

// liveNodes are the nodes whose process runs and that the checker did not
// cut off.
func (c *testCluster) liveNodes() []*node {
	var out []*node
	for _, n := range c.nodes {
		select {
		case <-n.done:
			continue
		default:
		}
		if n.isolated.Load() {
			continue
		}
		out = append(out, n)
	}
	return out
}

func (w *watcher) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		nodes := w.k.c.liveNodes()
		if len(nodes) == 0 {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		n := nodes[w.rot%len(nodes)]
		w.rot++
		cl, err := tryDial(w.k.t, n.wsURL(), w.u)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.mu.Lock()
		session, seq := w.session, w.seq
		how := "identify"
		if session != "" {
			how = fmt.Sprintf("resume %s from s=%d", session, seq)
		}
		w.conns = append(w.conns, fmt.Sprintf("%s %s at %s", n.name, how, time.Now().Format("15:04:05.000")))
		w.mu.Unlock()
		if session != "" {
			err = cl.resume(session, seq)
		} else {
			err = w.identify(cl)
		}
		if err == nil {
			w.serve(cl)
		}
		_ = cl.conn.Close()
		w.mu.Lock()
		if w.downAt.IsZero() {
			w.downAt = time.Now()
		}
		w.mu.Unlock()
	}
}

func (w *watcher) identify(cl *gwClient) error {
	return cl.send(2, map[string]any{"token": w.u.auth[len("Bearer "):],
		"properties": map[string]string{"os": "linux", "browser": "checker", "device": "checker"}})
}

// serve reads one connection until it ends, the server asks for a
// reconnect, or the watcher stops.
func (w *watcher) serve(cl *gwClient) {
	hb := time.NewTicker(15 * time.Second)
	defer hb.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-hb.C:
			w.mu.Lock()
			seq := w.seq
			w.mu.Unlock()
			_ = cl.send(1, seq)
		case f, ok := <-cl.frames:
			if !ok {
				return
			}
			switch f.Op {
			case 7:
				return
			case 9:
				w.mu.Lock()
				w.session, w.seq = "", 0
				if w.lostGapAt.IsZero() {
					w.lostGapAt = w.downAt
					if w.lostGapAt.IsZero() {
						w.lostGapAt = time.Now()
					}
				}
				w.mu.Unlock()
				if w.identify(cl) != nil {
					return
				}
			case 0:
				w.dispatch(f)
			}
		}
	}
}

func (w *watcher) dispatch(f frame) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq = f.S
	switch f.T {
	case "READY", "RESUMED":
		now := time.Now()
		if f.T == "READY" {
			var r struct {
				SessionID string `json:"session_id"`
			}
			_ = json.Unmarshal(f.D, &r)
			w.session = r.SessionID
			w.identifies++
			if w.firstReady.IsZero() {
				w.firstReady = now
			}
			if !w.lostGapAt.IsZero() {
				w.gaps = append(w.gaps, gap{from: w.lostGapAt, to: now})
				w.lostGapAt = time.Time{}
			}
		} else {
			w.resumes++
		}
		if !w.downAt.IsZero() {
			w.recoveries = append(w.recoveries, recovery{at: now, took: now.Sub(w.downAt)})
			w.downAt = time.Time{}
		}
	case "MESSAGE_CREATE":
		var m struct {
			ID        string `json:"id"`
			ChannelID string `json:"channel_id"`
			Content   string `json:"content"`
		}
		_ = json.Unmarshal(f.D, &m)
		w.got[m.ChannelID] = append(w.got[m.ChannelID], received{id: m.ID, content: m.Content, seq: f.S, conn: len(w.conns) - 1})
	}
}

// phase is one scenario: its channels, its sends, its fault.
type phase struct {
	k        *checker
	name     string
	channels []string
	mu       sync.Mutex
	sends    []*sendRecord
	stop     chan struct{}
	wg       sync.WaitGroup
	faultAt  time.Time
	start    time.Time
	failures map[string]int // why sends failed, guarded by mu
}

// newPhase creates the phase's channels in the checker's guild.
func (k *checker) newPhase(name string, channels int) *phase {
	p := &phase{k: k, name: name, stop: make(chan struct{}), start: time.Now()}
	n := k.c.liveNodes()[0]
	for i := range channels {
		ch := n.must(201, "POST", "/api/v10/guilds/"+k.guild+"/channels", k.owner.auth,
			map[string]any{"name": fmt.Sprintf("%s-%d", strings.ReplaceAll(name, " ", "-"), i), "type": 0}).obj()
		p.channels = append(p.channels, str(ch, "id"))
	}
	return p
}

// load offers rate messages per second, paced by the clock whatever the
// answers' latency (at most inFlight at once), each to the next live node
// and the next channel, from the checker's senders, until stopLoad.
func (p *phase) load(rate, inFlight int) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		sem := make(chan struct{}, inFlight)
		start := time.Now()
		for n := 0; ; n++ {
			next := start.Add(time.Duration(n) * time.Second / time.Duration(rate))
			select {
			case <-p.stop:
				return
			case <-time.After(time.Until(next)):
			}
			select {
			case sem <- struct{}{}:
			case <-p.stop:
				return
			}
			p.wg.Add(1)
			go func() {
				defer func() { <-sem; p.wg.Done() }()
				p.send(n)
			}()
		}
	}()
}

// send makes attempt n and records it.
func (p *phase) send(n int) {
	nodes := p.k.c.liveNodes()
	if len(nodes) == 0 {
		return
	}
	u := p.k.senders[n%len(p.k.senders)]
	nd := nodes[n%len(nodes)]
	rec := &sendRecord{content: fmt.Sprintf("%s/%d", p.name, n), channel: p.channels[n%len(p.channels)],
		started: time.Now()}
	r, err := nd.try("POST", "/api/v10/channels/"+rec.channel+"/messages", u.auth,
		map[string]string{"content": rec.content})
	why := ""
	switch {
	case err != nil:
		why = "error: " + err.Error()
		if i := strings.LastIndex(why, ": "); i > 0 {
			why = "error: " + why[i+2:]
		}
	case r.status == 200:
		rec.acked, rec.id = true, str(r.obj(), "id")
	default:
		why = fmt.Sprintf("%d %s", r.status, str(r.obj(), "message"))
	}
	p.mu.Lock()
	p.sends = append(p.sends, rec)
	if why != "" {
		if p.failures == nil {
			p.failures = map[string]int{}
		}
		p.failures[why]++
	}
	p.mu.Unlock()
}

func (p *phase) stopLoad() {
	close(p.stop)
	p.wg.Wait()
}

// result is a phase's counts.
type result struct {
	name                         string
	sent, acked, failed          int
	stored, ackedLost, dupCommit int
	unackedStored                int
	dupEvents, outOfOrder        int
	missedEvents, excused        int
	maxRecovery                  time.Duration
	lateFailures                 int // sends started 15 s or more after the fault that failed
	fencings                     float64
	rate                         float64
}

func (r result) String() string {
	return fmt.Sprintf("| %-22s | %5d | %5d | %5d | %6.0f | %5d | %5d | %5d | %5d | %5d | %5d | %5d | %6.1fs | %4d | %4.0f |",
		r.name, r.sent, r.acked, r.failed, r.rate, r.stored, r.ackedLost, r.dupCommit, r.dupEvents, r.outOfOrder,
		r.missedEvents, r.excused, r.maxRecovery.Seconds(), r.lateFailures, r.fencings)
}

const resultHeader = "| scenario               |  sent | acked | failed | msg/s | stored | lost | dup commits | dup events | out of order | missed events | excused | max recovery | late failures | fencings |"

// check settles, reads PostgreSQL through REST and counts.
func (p *phase) check() result {
	p.k.t.Helper()
	time.Sleep(2 * time.Second) // deliveries settle
	r := result{name: p.name}
	p.mu.Lock()
	sends := slices.Clone(p.sends)
	p.mu.Unlock()
	var first, last time.Time
	for _, s := range sends {
		r.sent++
		if s.acked {
			r.acked++
		} else {
			r.failed++
			if !p.faultAt.IsZero() && s.started.Sub(p.faultAt) >= 15*time.Second {
				r.lateFailures++
			}
		}
		if first.IsZero() || s.started.Before(first) {
			first = s.started
		}
		if s.started.After(last) {
			last = s.started
		}
	}
	if d := last.Sub(first).Seconds(); d > 0 {
		r.rate = float64(r.sent) / d
	}
	// What PostgreSQL holds, channel by channel, oldest first.
	stored := map[string][]received{}
	byContent := map[string]int{}
	storedIDs := map[string]bool{}
	for _, ch := range p.channels {
		msgs := p.history(ch)
		stored[ch] = msgs
		for _, m := range msgs {
			byContent[m.content]++
			storedIDs[m.id] = true
		}
		r.stored += len(msgs)
	}
	ackedContent := map[string]bool{}
	for _, s := range sends {
		if s.acked {
			ackedContent[s.content] = true
			if !storedIDs[s.id] {
				r.ackedLost++
			}
		}
	}
	for c, n := range byContent {
		if n > 1 {
			r.dupCommit += n - 1
		}
		if !ackedContent[c] {
			r.unackedStored++
		}
	}
	// Every watcher: each channel's events once, in id order, all of them
	// but those of windows without a session.
	for _, w := range p.k.watchers {
		w.mu.Lock()
		gaps := slices.Clone(w.gaps)
		if !w.lostGapAt.IsZero() {
			gaps = append(gaps, gap{from: w.lostGapAt, to: time.Now()})
		}
		for _, rc := range w.recoveries {
			if rc.at.After(p.start) {
				r.maxRecovery = max(r.maxRecovery, rc.took)
			}
		}
		got := map[string][]received{}
		for _, ch := range p.channels {
			got[ch] = slices.Clone(w.got[ch])
		}
		conns := slices.Clone(w.conns)
		w.mu.Unlock()
		for _, ch := range p.channels {
			seen := map[string]received{}
			var prev uint64
			for _, m := range got[ch] {
				if first, dup := seen[m.id]; dup {
					r.dupEvents++
					p.k.t.Logf("%s: watcher %s got message %s twice: s=%d on connection %d (%s), then s=%d on connection %d (%s)",
						p.name, w.name, m.id, first.seq, first.conn, conns[first.conn], m.seq, m.conn, conns[m.conn])
					continue
				}
				seen[m.id] = m
				id, _ := strconv.ParseUint(m.id, 10, 64)
				if id <= prev {
					r.outOfOrder++
				}
				prev = max(prev, id)
			}
			for _, m := range stored[ch] {
				if _, ok := seen[m.id]; ok {
					continue
				}
				at := snowflakeTime(m.id)
				excused := false
				for _, g := range gaps {
					if !at.Before(g.from.Add(-2*time.Second)) && !at.After(g.to.Add(2*time.Second)) {
						excused = true
					}
				}
				if excused {
					r.excused++
				} else {
					r.missedEvents++
					if r.missedEvents <= 5 {
						p.k.t.Logf("%s: watcher %s missed message %s (sent %s) of channel %s; its connections: %v",
							p.name, w.name, m.id, at.Format("15:04:05.000"), ch, conns)
					}
				}
			}
		}
	}
	r.fencings = p.k.c.sumMetric("accord_channel_fencings_total")
	p.mu.Lock()
	failures := fmt.Sprint(p.failures)
	p.mu.Unlock()
	p.k.t.Logf("%s: sent %d, acked %d, stored %d (%d stored without an ack); failures: %s", p.name, r.sent, r.acked,
		r.stored, r.unackedStored, failures)
	return r
}

// snowflakeTime is when a snowflake id was made (Discord's epoch).
func snowflakeTime(id string) time.Time {
	v, _ := strconv.ParseUint(id, 10, 64)
	return time.UnixMilli(int64(v>>22) + 1420070400000)
}

// history reads a channel's whole history through REST, oldest first.
func (p *phase) history(ch string) []received {
	p.k.t.Helper()
	var out []received
	before := ""
	for range 10000 {
		q := url.Values{"limit": {"100"}}
		if before != "" {
			q.Set("before", before)
		}
		var page []struct {
			ID      string `json:"id"`
			Content string `json:"content"`
		}
		var r response
		var err error
		for _, n := range p.k.c.liveNodes() {
			if r, err = n.try("GET", "/api/v10/channels/"+ch+"/messages?"+q.Encode(), p.k.owner.auth, nil); err == nil && r.status == 200 {
				break
			}
		}
		if err != nil || r.status != 200 {
			p.k.t.Fatalf("reading history of %s: %v %d %s", ch, err, r.status, r.raw)
		}
		_ = json.Unmarshal(r.raw, &page)
		if len(page) == 0 {
			break
		}
		for _, m := range page {
			out = append(out, received{id: m.ID, content: m.Content})
		}
		before = page[len(page)-1].ID
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseUint(out[i].id, 10, 64)
		b, _ := strconv.ParseUint(out[j].id, 10, 64)
		return a < b
	})
	return out
}

// report prints the phases' table and fails on counts that must be zero.
func report(t testing.TB, results []result, strict map[string][]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("\n" + resultHeader + "\n")
	for _, r := range results {
		b.WriteString(r.String() + "\n")
	}
	t.Log(b.String())
	for _, r := range results {
		checks := map[string]int{"lost": r.ackedLost, "dup commits": r.dupCommit, "dup events": r.dupEvents,
			"out of order": r.outOfOrder, "missed events": r.missedEvents, "late failures": r.lateFailures}
		for _, name := range strict[r.name] {
			if checks[name] != 0 {
				t.Errorf("%s: %s = %d, want 0", r.name, name, checks[name])
			}
		}
		if r.acked == 0 {
			t.Errorf("%s: nothing acknowledged", r.name)
		}
		if math.IsNaN(r.rate) {
			t.Errorf("%s: no rate", r.name)
		}
	}
}
