package rest

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/gin-gonic/gin"
)

// ClusterInspector reports the cluster's members and what each hosts.
// *actors.System implements it.
type ClusterInspector interface {
	ClusterInfo(ctx context.Context, limit int) actors.ClusterInfo
}

// adminInfoTimeout bounds how long GET /api/admin/cluster waits for the
// members' answers.
const adminInfoTimeout = 3 * time.Second

// mountAdmin registers the operator endpoints on the native API. Without
// an admin token they do not exist (404, like any unknown route).
func (s *Server) mountAdmin(g *gin.RouterGroup) {
	if s.cfg.AdminToken == "" {
		return
	}
	sum := sha256.Sum256([]byte(s.cfg.AdminToken))
	s.adminTokenSum = sum[:]
	admin := g.Group("/admin", s.authenticateAdmin)
	admin.GET("/cluster", s.getCluster)
}

// authenticateAdmin accepts "Authorization: Bearer <admin token>" (or the
// bare token). The digests are compared in constant time, so neither the
// token's content nor its length leaks through timing.
func (s *Server) authenticateAdmin(c *gin.Context) {
	got := strings.TrimSpace(c.GetHeader("Authorization"))
	if len(got) > 7 && strings.EqualFold(got[:7], "Bearer ") {
		got = strings.TrimSpace(got[7:])
	}
	sum := sha256.Sum256([]byte(got))
	if got == "" || subtle.ConstantTimeCompare(sum[:], s.adminTokenSum) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="accord-admin"`)
		writeError(c, discord.ErrUnauthorized)
		return
	}
	c.Next()
}

// The JSON of GET /api/admin/cluster.
type (
	clusterJSON struct {
		Self    string       `json:"self"`
		Members []memberJSON `json:"members"`
	}
	memberJSON struct {
		ID         string               `json:"id"`
		Self       bool                 `json:"self"`
		GossipAddr string               `json:"gossip_addr,omitempty"`
		RemoteAddr string               `json:"remote_addr"`
		HTTPAddr   string               `json:"http_addr,omitempty"`
		Reachable  bool                 `json:"reachable"`
		Error      string               `json:"error,omitempty"`
		Users      int64                `json:"users"`
		Grains     map[string]grainJSON `json:"grains"`
	}
	grainJSON struct {
		Count     int64    `json:"count"`
		IDs       []string `json:"ids"`
		Truncated bool     `json:"truncated"`
	}
)

// getCluster answers every member with its addresses and the grains it
// hosts: counts per kind and up to ?limit= identities per kind (default
// 100, at most 1000; 0 for counts only).
func (s *Server) getCluster(c *gin.Context) {
	if s.cfg.Cluster == nil {
		writeError(c, discord.ErrUnavailable)
		return
	}
	limit := actors.DefaultInfoLimit
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > actors.MaxInfoLimit {
			writeError(c, discord.Invalid("limit", "NUMBER_TYPE_MAX", "Must be between 0 and 1000."))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), adminInfoTimeout)
	defer cancel()
	info := s.cfg.Cluster.ClusterInfo(ctx, limit)
	out := clusterJSON{Self: info.Self, Members: make([]memberJSON, 0, len(info.Members))}
	for _, m := range info.Members {
		mj := memberJSON{ID: m.ID, Self: m.Self, GossipAddr: m.GossipAddr, RemoteAddr: m.RemoteAddr,
			HTTPAddr: m.HTTPAddr, Reachable: m.Reachable, Error: m.Error, Users: m.Users,
			Grains: make(map[string]grainJSON, len(m.Grains))}
		for kind, g := range m.Grains {
			ids := g.IDs
			if ids == nil {
				ids = []string{}
			}
			mj.Grains[kind] = grainJSON{Count: g.Count, IDs: ids, Truncated: g.Truncated}
		}
		out.Members = append(out.Members, mj)
	}
	writeJSON(c, http.StatusOK, out)
}
