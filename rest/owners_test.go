package rest_test

import (
	"context"
	"fmt"
	"testing"
)

// TestUnknownIDsWriteNothing: requests naming guilds and channels that do
// not exist answer Discord's unknown-object errors and leave no owner epoch
// behind; otherwise every bogus id a client sends grows guild_owners and
// channel_owners for good.
func TestUnknownIDsWriteNothing(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	auth := "Bearer " + a.access
	count := func() (n int64) {
		t.Helper()
		if err := e.store.Pool().QueryRow(context.Background(),
			`SELECT (SELECT count(*) FROM guild_owners) + (SELECT count(*) FROM channel_owners)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for i := range 20 {
		id := fmt.Sprint(900000000000000000 + i*4194304)
		expect(t, e.do(t, "GET", "/api/v10/guilds/"+id, auth, nil), 404, 10004)
		expect(t, e.do(t, "GET", "/api/v10/guilds/"+id+"/channels", auth, nil), 404, 10004)
		expect(t, e.do(t, "GET", "/api/v10/guilds/"+id+"/members/"+a.id, auth, nil), 404, 10004)
		expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+id, auth, map[string]any{"name": "x"}), 404, 10004)
		expect(t, e.do(t, "GET", "/api/v10/channels/"+id, auth, nil), 404, 10003)
		expect(t, e.do(t, "GET", "/api/v10/channels/"+id+"/messages", auth, nil), 404, 10003)
		expect(t, e.do(t, "POST", "/api/v10/channels/"+id+"/messages", auth, map[string]any{"content": "hi"}), 404, 10003)
		expect(t, e.do(t, "PUT", "/api/v10/channels/"+id+"/messages/"+id+"/reactions/%F0%9F%91%8D/@me", auth, nil), 404, 10003)
		expect(t, e.do(t, "PUT", "/api/v10/channels/"+id+"/pins/"+id, auth, nil), 404, 10003)
		expect(t, e.do(t, "POST", "/api/v10/channels/"+id+"/typing", auth, nil), 404, 10003)
	}
	if after := count(); after != before {
		t.Errorf("owner epochs: %d rows before, %d after requests for unknown guilds and channels", before, after)
	}
}
