package clustertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// members runs `accord cluster members` with args against n and returns its
// output and error.
func (n *node) members(args ...string) (string, error) {
	var out, errOut bytes.Buffer
	cmd := exec.Command(accordBin, append([]string{"cluster", "members", "--url", n.url()}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String() + errOut.String(), err
}

// clusterView is what `accord cluster members --json` prints.
type clusterView struct {
	Self    string `json:"self"`
	Members []struct {
		ID         string `json:"id"`
		GossipAddr string `json:"gossip_addr"`
		HTTPAddr   string `json:"http_addr"`
		Reachable  bool   `json:"reachable"`
		Grains     map[string]struct {
			Count     int64    `json:"count"`
			IDs       []string `json:"ids"`
			Truncated bool     `json:"truncated"`
		} `json:"grains"`
	} `json:"members"`
}

func (n *node) view() clusterView {
	n.t.Helper()
	out, err := n.members("--json")
	if err != nil {
		n.t.Fatalf("accord cluster members --json via %s: %v\n%s", n.name, err, out)
	}
	var v clusterView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		n.t.Fatalf("%v: %s", err, out)
	}
	return v
}

// guildHosts maps each guild to the members whose Guild grains list it.
func (v clusterView) guildHosts() map[string][]string {
	hosts := map[string][]string{}
	for _, m := range v.Members {
		for _, id := range m.Grains["Guild"].IDs {
			hosts[id] = append(hosts[id], m.GossipAddr)
		}
	}
	return hosts
}

// TestClusterMembers runs `accord cluster members` against real nodes: it
// lists every member with its addresses, finds the Guild grains of guilds
// created through REST on the members hosting them (one each), and still
// does after a third node joins and grains move.
func TestClusterMembers(t *testing.T) {
	const token = "members-test-operator-token"
	// The nodes inherit the environment: every one gets the admin token.
	t.Setenv("ACCORD_ADMIN_TOKEN", token)
	c := startCluster(t, 2)
	n1, n2 := c.nodes[0], c.nodes[1]

	// The table, from either node, lists both members as reachable.
	for _, n := range []*node{n1, n2} {
		out, err := n.members()
		if err != nil {
			t.Fatalf("accord cluster members via %s: %v\n%s", n.name, err, out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "MEMBER") {
			t.Fatalf("via %s: want a header and two members:\n%s", n.name, out)
		}
		for _, m := range []*node{n1, n2} {
			line := ""
			for _, l := range lines[1:] {
				if strings.Contains(l, " "+m.gossip+" ") {
					line = l
				}
			}
			if line == "" || !strings.Contains(line, " "+m.http+" ") || !strings.Contains(line, " yes ") {
				t.Fatalf("via %s: no reachable line for %s (gossip %s, http %s):\n%s", n.name, m.name, m.gossip, m.http, out)
			}
			if self := strings.Contains(strings.Fields(line)[1], "*"); self != (m == n) {
				t.Fatalf("via %s: self mark wrong on %s:\n%s", n.name, m.name, out)
			}
		}
	}

	// Wrong and missing tokens are refused.
	if out, err := n1.members("--admin-token", "not-the-token"); err == nil || !strings.Contains(out, "refused the admin token") {
		t.Fatalf("wrong token: %v\n%s", err, out)
	}
	t.Setenv("ACCORD_ADMIN_TOKEN", "")
	if out, err := n1.members(); err == nil || !strings.Contains(out, "no admin token") {
		t.Fatalf("no token: %v\n%s", err, out)
	}
	t.Setenv("ACCORD_ADMIN_TOKEN", token)

	// Guilds created through REST show up as Guild grains, each on exactly
	// one member, whichever node is asked.
	owner := c.register(n1, "members-owner")
	var guilds []string
	for i := range 16 {
		r := n1.must(201, "POST", "/api/v10/guilds", owner.auth, map[string]string{"name": fmt.Sprintf("Members %d", i)})
		guilds = append(guilds, str(r.obj(), "id"))
	}
	checkPlacement := func(n *node, members int) string {
		v := n.view()
		if len(v.Members) != members {
			return fmt.Sprintf("via %s: %d members, want %d", n.name, len(v.Members), members)
		}
		for _, m := range v.Members {
			if !m.Reachable {
				return fmt.Sprintf("via %s: %s unreachable", n.name, m.ID)
			}
		}
		hosts := v.guildHosts()
		for _, g := range guilds {
			if len(hosts[g]) != 1 {
				return fmt.Sprintf("via %s: guild %s hosted on %v, want exactly one member", n.name, g, hosts[g])
			}
		}
		return ""
	}
	for _, n := range []*node{n1, n2} {
		if msg := checkPlacement(n, 2); msg != "" {
			t.Fatal(msg)
		}
	}
	t.Logf("two nodes: %v", n1.view().guildHosts())

	// A third node joins: disthash moves some guilds to it, their old
	// activations stop, and once the guilds are used again every one is
	// still listed on exactly one member.
	n3 := c.add()
	for _, n := range []*node{n1, n2} {
		c.waitReady(n, 2)
	}
	eventually(t, 20*time.Second, func() string {
		for _, g := range guilds {
			if _, err := n3.try("GET", "/api/v10/guilds/"+g, owner.auth, nil); err != nil {
				return err.Error()
			}
		}
		return checkPlacement(n3, 3)
	})
	hosts := n3.view().guildHosts()
	t.Logf("three nodes: %v", hosts)
	moved := 0
	for _, g := range guilds {
		if hosts[g][0] == n3.gossip {
			moved++
		}
	}
	if moved == 0 {
		t.Logf("no guild moved to the third node (chance about (2/3)^%d)", len(guilds))
	}
}
