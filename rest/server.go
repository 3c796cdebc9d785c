// Package rest serves Accord's HTTP API: Discord v10 shapes under /api/v10
// and /api/v9, and the design seed's native API (the same handlers plus
// /api/auth) under /api. Handlers ask grains and stores; they map errors to
// Discord's JSON error codes here, at the edge.
package rest

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/password"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AccountStore is what the account endpoints need from the database.
type AccountStore interface {
	CreateUser(ctx context.Context, nu persistence.NewUser) (persistence.User, error)
	UserByID(ctx context.Context, id int64) (persistence.User, error)
	UserByEmail(ctx context.Context, email string) (persistence.User, error)
	UserByTag(ctx context.Context, username string, discriminator int16) (persistence.User, error)
	UsersByUsername(ctx context.Context, username string, limit int) ([]persistence.User, error)
	SetPasswordHash(ctx context.Context, id int64, oldHash, newHash string) error
	CreateFamily(ctx context.Context, familyID, userID int64, refreshHash []byte, expires time.Time) error
	RotateRefresh(ctx context.Context, oldHash, newHash []byte, expires time.Time) (userID, familyID int64, err error)
	RevokeFamily(ctx context.Context, familyID int64, reason string) error
	RevokeUserFamilies(ctx context.Context, userID int64, reason string) error
	FamilyActive(ctx context.Context, familyID, userID int64) (bool, error)
}

// UserDirectory reads and changes users through their grains.
type UserDirectory interface {
	Get(ctx context.Context, id int64) (persistence.User, error)
	Update(ctx context.Context, id int64, u actors.UserUpdate) (persistence.User, error)
}

// IDGenerator issues snowflakes.
type IDGenerator interface {
	Next() (snowflake.ID, error)
}

// Config wires the API to the rest of the node. Every field is required
// unless marked optional.
type Config struct {
	Accounts  AccountStore
	Users     UserDirectory
	Tokens    *token.Issuer
	Passwords *password.Hasher
	IDs       IDGenerator
	Logger    *slog.Logger
	// Applications stores applications and verifies bot tokens.
	Applications ApplicationStore
	// Guilds runs guild operations in guild grains.
	Guilds GuildDirectory
	// Lookup routes channel and invite ids to their guilds.
	Lookup GuildLookup
	// Channels runs message operations in channel grains.
	Channels ChannelDirectory
	// Messages reads history for authorized callers.
	Messages MessageStore
	// Ready reports whether the node can serve (database up, cluster
	// joined); /readyz answers 503 with its error otherwise.
	Ready func(ctx context.Context) error
	// Registry collects the API's metrics and is served on /metrics.
	Registry *prometheus.Registry
	// RefreshTTL is the lifetime of a refresh token; default 30 days.
	RefreshTTL time.Duration
	// FamilyCacheTTL bounds how long a revoked login can keep using its
	// access token on a node; default 2 s.
	FamilyCacheTTL time.Duration
	// AdminToken is the operator token of the native API's /api/admin
	// endpoints; empty disables them (404). Optional.
	AdminToken string
	// Cluster reports the cluster's members for GET /api/admin/cluster.
	// Optional: without it that endpoint answers 503.
	Cluster ClusterInspector
	// GatewayURL is the gateway's public URL that GET /gateway announces.
	// Optional: by default ws(s)://<Host header>/gateway.
	GatewayURL string
}

// Server is the HTTP API.
type Server struct {
	cfg      Config
	engine   *gin.Engine
	families *familyCache
	metrics  *httpMetrics
	channels channelGuilds
	verified verifiedTokens
	// adminTokenSum is the SHA-256 of Config.AdminToken.
	adminTokenSum []byte
}

// New builds the router.
func New(cfg Config) *Server {
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.FamilyCacheTTL == 0 {
		cfg.FamilyCacheTTL = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{
		cfg:      cfg,
		engine:   gin.New(),
		families: newFamilyCache(cfg.FamilyCacheTTL),
		metrics:  newHTTPMetrics(cfg.Registry),
	}
	s.routes()
	return s
}

// Handler returns the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes() {
	e := s.engine
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.Use(s.recover, s.observe)
	e.NoRoute(func(c *gin.Context) { writeError(c, discord.ErrNotFound) })
	e.NoMethod(func(c *gin.Context) { writeError(c, discord.ErrMethodNotAllowed) })

	e.GET("/livez", s.livez)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{})))

	native := e.Group("/api")
	s.mountAuth(native.Group("/auth"))
	s.mountAdmin(native)
	s.mountAPI(native, true)
	for _, g := range []*gin.RouterGroup{e.Group("/api/v9"), e.Group("/api/v10")} {
		s.mountAPI(g, false)
	}
}

// mountAPI registers the handlers shared by the three mounts.
func (s *Server) mountAPI(g *gin.RouterGroup, native bool) {
	g.GET("/gateway", s.getGateway)
	authed := g.Group("", s.authenticate)
	authed.GET("/gateway/bot", s.getGatewayBot)
	authed.GET("/users/@me", s.getMe)
	authed.PATCH("/users/@me", s.patchMe)
	authed.GET("/users/:user_id", s.getUser)
	s.mountGuilds(authed)
	s.mountMessages(authed, native)
	s.mountDMs(authed)
	s.mountApplications(authed)
}

func (s *Server) mountAuth(g *gin.RouterGroup) {
	g.POST("/register", s.register)
	g.POST("/login", s.login)
	g.POST("/refresh", s.refresh)
	g.POST("/logout", s.authenticate, s.logout)
}

func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler { //nolint:errorlint // sentinel compared by identity, as net/http does
				panic(r)
			}
			s.cfg.Logger.Error("panic in handler", slog.Any("panic", r), slog.String("path", c.FullPath()))
			writeError(c, discord.ErrInternal)
		}
	}()
	c.Next()
}

func (s *Server) livez(c *gin.Context) {
	writeJSON(c, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c *gin.Context) {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			writeJSON(c, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
			return
		}
	}
	writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
}
