package main

import (
	"strings"
	"testing"
)

func TestGCMinHeapFlag(t *testing.T) {
	for _, c := range []struct {
		arg  string
		want uint64
	}{
		{"", 128 << 20}, // the default
		{"--gc-min-heap=0", 0},
		{"--gc-min-heap=1GiB", 1 << 30},
		{"--gc-min-heap=64MiB", 64 << 20},
		{"--gc-min-heap=512KiB", 512 << 10},
		{"--gc-min-heap=1000000", 1000000},
	} {
		var args []string
		if c.arg != "" {
			args = []string{c.arg}
		}
		cfg, err := parseFlags("serve", args)
		if err != nil {
			t.Errorf("%q: %v", c.arg, err)
			continue
		}
		if cfg.GCMinHeap != c.want {
			t.Errorf("%q: GCMinHeap = %d, want %d", c.arg, cfg.GCMinHeap, c.want)
		}
	}
	for _, bad := range []string{"256MB", "-1", "1.5GiB", "GiB", "99999999999999GiB"} {
		_, err := parseFlags("serve", []string{"--gc-min-heap=" + bad})
		if err == nil || !strings.Contains(err.Error(), "--gc-min-heap") {
			t.Errorf("--gc-min-heap=%s: error %v, want one naming the flag", bad, err)
		}
	}
}
