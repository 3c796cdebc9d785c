package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// testRequests checks the grain call path (System.request): answers reach
// their own caller even while callers give up early and reply processes
// are reused, and a canceled context fails fast.
func testRequests(t *testing.T, f *fixture) {
	owner := f.createUser(t, "requester", "pw-requester")
	const guilds = 8
	ids := make([]int64, guilds)
	for i := range ids {
		ids[i] = f.nextID.Add(1)
		r, err := f.sys.Guilds().Call(ctxT(t), GuildRequest{GuildID: ids[i], Op: "guild.create", ActorID: owner.ID,
			Body: fmt.Appendf(nil, `{"name":"guild %d"}`, i)})
		if err != nil || r.Status != 201 {
			t.Fatalf("create guild: %v %d %s", err, r.Status, r.Body)
		}
	}

	var wg sync.WaitGroup
	for w := range 32 {
		wg.Go(func() {
			for n := range 50 {
				i := (w + n) % guilds
				ctx, cancel := context.Background(), func() {}
				impatient := n%3 == 0
				if impatient {
					// Gives up around the time the grain answers: the late
					// answer must not reach anyone else.
					ctx, cancel = context.WithTimeout(ctx, time.Duration(rand.IntN(300))*time.Microsecond)
				}
				r, err := f.sys.Guilds().Call(ctx, GuildRequest{GuildID: ids[i], Op: "guild.get", ActorID: owner.ID})
				cancel()
				if impatient && err != nil {
					if !errors.Is(err, ErrUnavailable) {
						t.Errorf("impatient call: %v", err)
					}
					continue
				}
				if err != nil {
					t.Error(err)
					continue
				}
				var g struct {
					ID string `json:"id"`
				}
				if r.Status != 200 || json.Unmarshal(r.Body, &g) != nil || g.ID != strconv.FormatInt(ids[i], 10) {
					t.Errorf("guild.get %d answered %d %s", ids[i], r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.sys.Guilds().Call(canceled, GuildRequest{GuildID: ids[0], Op: "guild.get", ActorID: owner.ID}); !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a canceled context = %v", err)
	}
	if _, err := f.sys.Channels().Call(canceled, ChannelRequest{ChannelID: 1, Op: "typing", ActorID: owner.ID}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("channel call with a canceled context = %v", err)
	}
}
