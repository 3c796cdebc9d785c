package rest_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/accordchat/accord/rest"
)

// adminEnv serves the shared node's API once more, with an admin token.
func adminEnv(t *testing.T, e *env, token string) *env {
	t.Helper()
	api := rest.New(rest.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AdminToken: token,
		Cluster: e.system})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return &env{url: srv.URL, store: e.store, keys: e.keys, system: e.system}
}

type adminCluster struct {
	Self    string `json:"self"`
	Members []struct {
		ID         string `json:"id"`
		Self       bool   `json:"self"`
		GossipAddr string `json:"gossip_addr"`
		RemoteAddr string `json:"remote_addr"`
		Reachable  bool   `json:"reachable"`
		Grains     map[string]struct {
			Count     int64    `json:"count"`
			IDs       []string `json:"ids"`
			Truncated bool     `json:"truncated"`
		} `json:"grains"`
	} `json:"members"`
}

func TestAdminClusterEndpoint(t *testing.T) {
	e := testEnv(t)
	const token = "operator-secret-1"

	// Without a configured token the endpoint does not exist.
	r := expect(t, e.do(t, "GET", "/api/admin/cluster", "Bearer "+token, nil), 404, 0)
	if r.body["message"] != "404: Not Found" {
		t.Fatalf("disabled endpoint: %s", r.raw)
	}

	a := adminEnv(t, e, token)
	user := e.register(t)
	for _, auth := range []string{"", "Bearer wrong", "Bearer " + token + "x", "Bearer " + user.access, "Bot " + token} {
		r := expect(t, a.do(t, "GET", "/api/admin/cluster", auth, nil), 401, 0)
		if r.body["message"] != "401: Unauthorized" || len(r.body) != 2 {
			t.Fatalf("auth %q: %s", auth, r.raw)
		}
	}
	// Only on the native API.
	expect(t, a.do(t, "GET", "/api/v10/admin/cluster", "Bearer "+token, nil), 404, 0)

	// A guild and a message activate a Guild and a Channel grain on this
	// (the only) node.
	g := e.createGuild(t, user, "Admin View")
	expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/messages", auth(user), map[string]any{"content": "hi"}), 200, -1)
	expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth(user), map[string]any{"global_name": "Admin Viewer"}), 200, -1)

	get := func(auth, query string) adminCluster {
		t.Helper()
		r := expect(t, a.do(t, "GET", "/api/admin/cluster"+query, auth, nil), 200, -1)
		var out adminCluster
		if err := json.Unmarshal([]byte(r.raw), &out); err != nil {
			t.Fatalf("%v: %s", err, r.raw)
		}
		return out
	}
	for _, auth := range []string{"Bearer " + token, token} {
		c := get(auth, "")
		if c.Self != e.system.ID() || len(c.Members) != 1 {
			t.Fatalf("cluster = %+v", c)
		}
		m := c.Members[0]
		if m.ID != e.system.ID() || !m.Self || !m.Reachable || m.RemoteAddr != e.system.Address() || m.GossipAddr == "" {
			t.Fatalf("member = %+v", m)
		}
		if gs := m.Grains["Guild"]; gs.Count < 1 || !slices.Contains(gs.IDs, g.id) {
			t.Fatalf("guild %s not among the Guild grains %+v", g.id, gs)
		}
		if gs := m.Grains["Channel"]; gs.Count < 1 || !slices.Contains(gs.IDs, g.general) {
			t.Fatalf("channel %s not among the Channel grains %+v", g.general, gs)
		}
		if gs := m.Grains["User"]; gs.Count < 1 || !slices.Contains(gs.IDs, user.id) {
			t.Fatalf("user %s not among the User grains %+v", user.id, gs)
		}
	}

	// limit=0: counts only, flagged as truncated.
	c := get("Bearer "+token, "?limit=0")
	gs := c.Members[0].Grains["Guild"]
	if gs.Count < 1 || gs.IDs == nil || len(gs.IDs) != 0 || !gs.Truncated {
		t.Fatalf("limit=0: %+v", gs)
	}
	c = get("Bearer "+token, "?limit=1")
	if gs := c.Members[0].Grains["Channel"]; len(gs.IDs) != 1 || gs.Truncated != (gs.Count > 1) {
		t.Fatalf("limit=1: %+v", gs)
	}
	expect(t, a.do(t, "GET", "/api/admin/cluster?limit=abc", "Bearer "+token, nil), 400, 50035)
	expect(t, a.do(t, "GET", "/api/admin/cluster?limit=1001", "Bearer "+token, nil), 400, 50035)

	// A server without a cluster to ask says so.
	srv := httptest.NewServer(rest.New(rest.Config{AdminToken: token}).Handler())
	defer srv.Close()
	bare := &env{url: srv.URL}
	expect(t, bare.do(t, "GET", "/api/admin/cluster", "Bearer "+token, nil), 503, -1)
}
