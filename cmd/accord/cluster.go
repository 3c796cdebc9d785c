package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// advertisedHTTP is the HTTP address this node reports to operators: the
// listener's, with the advertise host instead of an unspecified one.
func advertisedHTTP(listen, advertise string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() && advertise != "" {
		if h, _, err := net.SplitHostPort(advertise); err == nil {
			host = h
		} else {
			host = advertise
		}
	}
	return net.JoinHostPort(host, port)
}

// defaultNodeURL is the URL of the node configured by ACCORD_HTTP_ADDR (a
// wildcard listen address is reached on loopback).
func defaultNodeURL() string {
	addr := envOr("ACCORD_HTTP_ADDR", "127.0.0.1:8080")
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return "http://" + addr
}

// clusterAnswer is the JSON of GET /api/admin/cluster.
type clusterAnswer struct {
	Self    string `json:"self"`
	Members []struct {
		ID         string `json:"id"`
		Self       bool   `json:"self"`
		GossipAddr string `json:"gossip_addr"`
		RemoteAddr string `json:"remote_addr"`
		HTTPAddr   string `json:"http_addr"`
		Reachable  bool   `json:"reachable"`
		Error      string `json:"error"`
		Users      int64  `json:"users"`
		Grains     map[string]struct {
			Count int64 `json:"count"`
		} `json:"grains"`
	} `json:"members"`
}

// clusterCmd runs `accord cluster members`: it asks a node's admin
// endpoint and prints every member with its addresses and grain counts.
// It fails when a member did not answer.
func clusterCmd(ctx context.Context, args []string, out io.Writer) error {
	const use = "usage: accord cluster members [--url URL] [--admin-token TOKEN] [--json]"
	if len(args) == 0 || args[0] != "members" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("accord cluster members", flag.ContinueOnError)
	url := fs.String("url", envOr("ACCORD_URL", defaultNodeURL()), "a node's HTTP URL (ACCORD_URL; default from ACCORD_HTTP_ADDR)")
	token := fs.String("admin-token", envOr("ACCORD_ADMIN_TOKEN", ""), "the nodes' operator token; prefer the environment (ACCORD_ADMIN_TOKEN)")
	asJSON := fs.Bool("json", false, "print the node's answer as JSON, with up to --limit grain identities per kind")
	limit := fs.Int("limit", 100, "with --json, grain identities listed per kind and member (0-1000)")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on the request")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v\n%s", fs.Args(), use)
	}
	if *token == "" {
		return errors.New("no admin token: pass --admin-token or set ACCORD_ADMIN_TOKEN")
	}
	n := 0
	if *asJSON {
		n = *limit
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		strings.TrimRight(*url, "/")+"/api/admin/cluster?limit="+strconv.Itoa(n), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+*token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return fmt.Errorf("%s has no admin endpoint: start the node with --admin-token (ACCORD_ADMIN_TOKEN)", *url)
	case http.StatusUnauthorized:
		return fmt.Errorf("%s refused the admin token", *url)
	default:
		return fmt.Errorf("%s answered %s: %.200s", *url, resp.Status, body)
	}
	var c clusterAnswer
	if err := json.Unmarshal(body, &c); err != nil {
		return fmt.Errorf("%s answered something else than a cluster: %w", *url, err)
	}
	if *asJSON {
		_, err = out.Write(append(body, '\n'))
	} else {
		err = printMembers(out, c)
	}
	if err != nil {
		return err
	}
	var down []string
	for _, m := range c.Members {
		if !m.Reachable {
			down = append(down, m.ID)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("%d of %d members did not answer: %s", len(down), len(c.Members), strings.Join(down, ", "))
	}
	return nil
}

// printMembers writes one line per member; "*" marks the node asked.
func printMembers(out io.Writer, c clusterAnswer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "MEMBER\tGOSSIP\tREMOTE\tHTTP\tREACHABLE\tGUILDS\tCHANNELS\tUSERS\tCONNECTED")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, m := range c.Members {
		id := m.ID
		if m.Self {
			id += " *"
		}
		reach := "yes"
		counts := make([]string, 0, 4)
		if m.Reachable {
			for _, k := range []string{"Guild", "Channel", "User"} {
				counts = append(counts, strconv.FormatInt(m.Grains[k].Count, 10))
			}
			counts = append(counts, strconv.FormatInt(m.Users, 10))
		} else {
			reach = "no: " + m.Error
			counts = append(counts, "-", "-", "-", "-")
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, dash(m.GossipAddr), dash(m.RemoteAddr), dash(m.HTTPAddr),
			reach, strings.Join(counts, "\t"))
	}
	return tw.Flush()
}
