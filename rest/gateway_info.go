package rest

import (
	"net/http"

	"github.com/accordchat/accord/persistence"
	"strings"

	"github.com/gin-gonic/gin"
)

// Gateway discovery: GET /gateway (no authentication; discordgo's) and GET
// /gateway/bot (discord.js's, which requires session_start_limit).

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

// getGatewayBot answers the caller's session start limit: a bot's
// Identifies in the last 24 hours are counted (the gateway refuses more
// than the total with 4008); people are not limited, so theirs stays full.
// max_concurrency 1 paces discord.js's identifies one at a time.
func (s *Server) getGatewayBot(c *gin.Context) {
	used, reset, err := s.cfg.Applications.SessionStarts(c.Request.Context(), caller(c).UserID)
	if err != nil {
		s.fail(c, "count session starts", err)
		return
	}
	writeJSON(c, http.StatusOK, struct {
		URL               string            `json:"url"`
		Shards            int               `json:"shards"`
		SessionStartLimit sessionStartLimit `json:"session_start_limit"`
	}{s.gatewayURL(c), 1, sessionStartLimit{Total: persistence.SessionStartLimit,
		Remaining:  max(persistence.SessionStartLimit-used, 0),
		ResetAfter: int(reset.Milliseconds()), MaxConcurrency: 1}})
}
