package rest

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Gateway discovery: GET /gateway (no authentication; discordgo's) and GET
// /gateway/bot (discord.js's, which requires session_start_limit).

// sessionStartTotal is the Identify budget announced in session_start_limit.
// Accord does not count Identifies yet; the numbers are Discord's defaults,
// and max_concurrency 1 paces discord.js's identifies one at a time.
const sessionStartTotal = 1000

// gatewayURL is the configured public gateway URL, or ws(s)://<Host>/gateway.
func (s *Server) gatewayURL(c *gin.Context) string {
	if s.cfg.GatewayURL != "" {
		return s.cfg.GatewayURL
	}
	r := c.Request
	scheme := "ws"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + "/gateway"
}

func (s *Server) getGateway(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"url": s.gatewayURL(c)})
}

type sessionStartLimit struct {
	Total          int `json:"total"`
	Remaining      int `json:"remaining"`
	ResetAfter     int `json:"reset_after"`
	MaxConcurrency int `json:"max_concurrency"`
}

func (s *Server) getGatewayBot(c *gin.Context) {
	writeJSON(c, http.StatusOK, struct {
		URL               string            `json:"url"`
		Shards            int               `json:"shards"`
		SessionStartLimit sessionStartLimit `json:"session_start_limit"`
	}{s.gatewayURL(c), 1, sessionStartLimit{Total: sessionStartTotal, Remaining: sessionStartTotal,
		ResetAfter: 14_400_000, MaxConcurrency: 1}})
}
