package rest_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/gctune"
)

// BenchmarkMessagePath measures the message path of one node and prints the
// issue's table (run by `make bench` with -benchtime 1x; each figure comes
// from one run on this machine):
//
//   - durable messages/s through REST, 100 concurrent keep-alive senders over
//     100 channels, next to a bare net/http echo handler driven by the same
//     load generator in the same run, their windows alternating in 1 s
//     slices; both get the same request (body and headers, Authorization
//     included), the echo ignoring all but the body;
//   - durable messages/s through the channel grains and the writer alone;
//   - POST latency (p50/p99) at an offered 5,000 messages/s;
//   - CPU per operation of the echo, REST and grain phases, this process's
//     (load generator included) and PostgreSQL's: on a shared machine these
//     move far less than the rates. $ACCORD_BENCH_PROFILE_DIR, when set,
//     receives a CPU profile of each echo and REST slice.
//
// The process's garbage collector is tuned as `accord serve` tunes it
// (gctune, 128 MiB minimum heap): the load generator shares it, in the echo
// phase as in the REST phase.
//
// The test PostgreSQL runs with fsync off (pgtest), so these figures are the
// server's ceiling, not a disk's.
func BenchmarkMessagePath(b *testing.B) {
	e := testEnv(b)
	// The garbage collector tuned as `accord serve` tunes it.
	gcCtx, stopGC := context.WithCancel(context.Background())
	defer stopGC()
	go gctune.Run(gcCtx, gctune.Config{MinHeap: gctune.DefaultMinHeap})
	// The test fan-out keeps every event for the tests to read; a server's
	// fan-out does not.
	defer events.mute()()
	const senders = 100
	const window = 5 * time.Second
	owner := e.register(b)
	channels := benchChannels(b, e, owner, senders)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders}}
	body := []byte(`{"content":"benchmark message with a little text in it"}`)

	post := func(url, auth string) (time.Duration, bool) {
		start := time.Now()
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		return time.Since(start), res.StatusCode == http.StatusOK
	}
	closedLoop := func(url func(i int) string, auth string, d time.Duration) int64 {
		var ok atomic.Int64
		stop := time.Now().Add(d)
		var wg sync.WaitGroup
		for i := range senders {
			wg.Go(func() {
				for time.Now().Before(stop) {
					if _, good := post(url(i), auth); good {
						ok.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return ok.Load()
	}

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, r.Body)
	}))
	defer echo.Close()
	// The echo and REST windows are cut into slices that alternate, so
	// that both see the same background load on a shared machine (5 s of
	// one then 5 s of the other gave ratios from 19% to 94% here).
	const slices = 5
	echoURL := func(int) string { return echo.URL + "/echo" }
	restURL := func(i int) string { return e.url + "/api/v10/channels/" + channels[i] + "/messages" }
	cpu := newCPUMeter(e)
	b.ResetTimer()
	var echoN, restN int64
	var echoCPU, restCPU cpuSample
	for n := range slices {
		c0 := cpu.sample()
		stopProfile := phaseProfile(b, fmt.Sprint("echo-", n))
		echoN += closedLoop(echoURL, "Bearer "+owner.access, window/slices)
		stopProfile()
		c1 := cpu.sample()
		stopProfile = phaseProfile(b, fmt.Sprint("rest-", n))
		restN += closedLoop(restURL, "Bearer "+owner.access, window/slices)
		stopProfile()
		c2 := cpu.sample()
		echoCPU = echoCPU.add(c0, c1)
		restCPU = restCPU.add(c1, c2)
	}
	echoRate, restRate := float64(echoN)/window.Seconds(), float64(restN)/window.Seconds()
	c2 := cpu.sample()

	// The grain and the writer alone: the authorization a REST call would
	// carry, asked once per channel.
	authz := make([][]byte, senders)
	for i, ch := range channels {
		r, err := e.system.Guilds().Call(context.Background(), actors.GuildRequest{GuildID: mustInt(e.guildOf(b, ch)), Op: "channel.authorize",
			ActorID: mustInt(owner.id), Params: map[string]string{"channel_id": ch}})
		if err != nil || r.Status != 200 {
			b.Fatalf("authorize: %v %d", err, r.Status)
		}
		authz[i] = r.Body
	}
	var grainOK atomic.Int64
	stop := time.Now().Add(window)
	var wg sync.WaitGroup
	for i := range senders {
		for range 4 { // a few requests in flight per channel, as a busy channel has
			wg.Go(func() {
				for time.Now().Before(stop) {
					r, err := e.system.Channels().Call(context.Background(), actors.ChannelRequest{ChannelID: mustInt(channels[i]),
						Op: "message.create", ActorID: mustInt(owner.id), Body: body, Authz: authz[i]})
					if err == nil && r.Status == 200 {
						grainOK.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	c3 := cpu.sample()
	grainRate := float64(grainOK.Load()) / window.Seconds()

	// Open loop at 5,000/s: latency as a client sees it. Sends are paced
	// by the clock: a ticker at 200us drops ticks on a busy machine (it
	// offered ~3,000/s here).
	const offered = 5000
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	start := time.Now()
	deadline := start.Add(window)
	sem := make(chan struct{}, 2000)
	for n, now := 0, start; now.Before(deadline); now = time.Now() {
		if n >= int(now.Sub(start).Seconds()*offered) {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		sem <- struct{}{}
		channel := channels[n%senders]
		wg.Go(func() {
			defer func() { <-sem }()
			d, good := post(e.url+"/api/v10/channels/"+channel+"/messages", "Bearer "+owner.access)
			if !good {
				failed.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
		n++
	}
	wg.Wait()
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nmessage path, one node, %d senders over %d channels, %v windows\n", senders, senders, window)
	fmt.Fprintf(tw, "figure\tvalue\tgoal\n")
	fmt.Fprintf(tw, "bare net/http echo (same load generator)\t%.0f req/s\t\n", echoRate)
	fmt.Fprintf(tw, "durable messages through REST\t%.0f msg/s (%.0f%% of echo)\t>= 60%% of echo\n", restRate, 100*restRate/echoRate)
	fmt.Fprintf(tw, "durable messages through grain + writer\t%.0f msg/s\t>= 50000/s\n", grainRate)
	fmt.Fprintf(tw, "POST latency at %d msg/s offered\tp50 %v, p99 %v (%d ok, %d failed)\tp99 <= 15ms\n",
		offered, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), len(lat), failed.Load())
	cpuLine := func(name string, a, b cpuSample, n int64) {
		self, pg := perOp(a, b, n)
		fmt.Fprintf(tw, "CPU per op, %s\t%.1f µs (this process %.1f, PostgreSQL %.1f)\t\n", name,
			float64(self+pg)/1e3, float64(self)/1e3, float64(pg)/1e3)
	}
	cpuLine("echo", cpuSample{}, echoCPU, echoN)
	cpuLine("REST", cpuSample{}, restCPU, restN)
	cpuLine("grain + writer", c2, c3, grainOK.Load())
	if es, ep := perOp(cpuSample{}, echoCPU, echoN); restN > 0 {
		rs, rp := perOp(cpuSample{}, restCPU, restN)
		fmt.Fprintf(tw, "CPU per echo request / CPU per REST message\t%.0f%%\t(the rate ratio when both phases get the same CPU)\n",
			100*float64(es+ep)/float64(rs+rp))
	}
	_ = tw.Flush()
	b.ReportMetric(restRate, "rest-msg/s")
	b.ReportMetric(echoRate, "echo-req/s")
	b.ReportMetric(grainRate, "grain-msg/s")
	b.ReportMetric(float64(pct(0.99).Microseconds()), "p99-µs")
}

// benchChannels makes n text channels over guilds of the owner.
func benchChannels(b *testing.B, e *env, owner account, n int) []string {
	var out []string
	for len(out) < n {
		g := e.createGuild(b, owner, fmt.Sprintf("bench %d", len(out)))
		out = append(out, g.general)
		for i := 0; i < 49 && len(out) < n; i++ {
			r := e.do(b, "POST", "/api/v10/guilds/"+g.id+"/channels", "Bearer "+owner.access, map[string]any{"name": fmt.Sprintf("c%d", i)})
			if r.status != 201 {
				b.Fatalf("create channel: %d %s", r.status, r.raw)
			}
			out = append(out, r.body["id"].(string))
		}
	}
	return out
}

// guildOf reads a channel's guild id.
func (e *env) guildOf(b *testing.B, channel string) string {
	var g int64
	if err := e.store.Pool().QueryRow(context.Background(), `SELECT guild_id FROM channels WHERE id = $1`, channel).Scan(&g); err != nil {
		b.Fatal(err)
	}
	return fmt.Sprint(g)
}
