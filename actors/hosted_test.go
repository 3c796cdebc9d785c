package actors

import (
	"slices"
	"testing"
)

func TestHostedGrainsCountsActivations(t *testing.T) {
	h := newHostedGrains()
	for _, id := range []string{"300", "20", "1000", "21"} {
		h.activated(KindGuild, id)
	}
	h.activated(KindChannel, "5")
	h.activated(KindChannel, "5") // a new activation before the old one's Terminate
	h.stopped(KindChannel, "5")
	h.stopped(KindGuild, "21")
	h.stopped(KindUser, "9") // never activated: no effect

	snap := h.snapshot(2)
	kinds := make([]string, len(snap))
	for i, gs := range snap {
		kinds[i] = gs.Kind
	}
	if !slices.Equal(kinds, []string{KindGuild, KindChannel, KindUser}) {
		t.Fatalf("kinds = %v", kinds)
	}
	if g := snap[0]; g.Count != 3 || !slices.Equal(g.Ids, []string{"20", "300"}) || !g.Truncated {
		t.Fatalf("guilds = %+v", g)
	}
	if c := snap[1]; c.Count != 1 || !slices.Equal(c.Ids, []string{"5"}) || c.Truncated {
		t.Fatalf("channels = %+v", c)
	}
	if u := snap[2]; u.Count != 0 || len(u.Ids) != 0 || u.Truncated {
		t.Fatalf("users = %+v", u)
	}
	h.stopped(KindChannel, "5")
	if c := h.snapshot(10)[1]; c.Count != 0 {
		t.Fatalf("channel still counted after its last activation stopped: %+v", c)
	}
	if g := h.snapshot(0)[0]; g.Count != 3 || len(g.Ids) != 0 || !g.Truncated {
		t.Fatalf("limit 0 = %+v", g)
	}
}
