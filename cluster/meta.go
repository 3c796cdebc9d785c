package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/memberlist"
)

// nodeMeta is what a node gossips about itself beside its gossip address:
// where its protoactor remoting listens and which grain kinds it hosts.
type nodeMeta struct {
	// Version lets a later release change the layout.
	Version int      `json:"v"`
	Remote  string   `json:"r"`
	Kinds   []string `json:"k,omitempty"`
	// Started is when the node started (Unix nanoseconds): of two nodes
	// that advertise the same address, the younger stops.
	Started int64 `json:"s,omitempty"`
}

const metaVersion = 1

func encodeMeta(m nodeMeta) ([]byte, error) {
	m.Version = metaVersion
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("cluster: node metadata is %d bytes, memberlist allows %d (too many kinds?)",
			len(b), memberlist.MetaMaxSize)
	}
	return b, nil
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("cluster: bad node metadata: %w", err)
	}
	if m.Version != metaVersion {
		return m, fmt.Errorf("cluster: node metadata version %d, want %d", m.Version, metaVersion)
	}
	host, port, err := net.SplitHostPort(m.Remote)
	if err != nil || host == "" {
		return m, fmt.Errorf("cluster: bad remote address %q in node metadata", m.Remote)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return m, fmt.Errorf("cluster: bad remote port in %q", m.Remote)
	}
	return m, nil
}
