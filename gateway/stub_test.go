package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
	"github.com/accordchat/accord/token"
)

// Stand-ins for the node, for the fuzz test and the benchmarks, which need
// the gateway's logic without PostgreSQL and grains. Token "user" is user 1,
// "bot" is bot 2; every user is in guild 10.

type stubTokens struct{}

func (stubTokens) Verify(raw string) (token.Claims, error) {
	switch raw {
	case "user":
		return token.Claims{UserID: 1, SessionID: 1}, nil
	case "bot":
		return token.Claims{UserID: 2, SessionID: 2}, nil
	}
	return token.Claims{}, token.ErrInvalidToken
}

type stubStore struct{}

func (stubStore) FamilyActive(context.Context, int64, int64) (bool, error) { return true, nil }
func (stubStore) GuildIDsOfUser(context.Context, int64) ([]int64, error)   { return []int64{10}, nil }

type stubUsers struct{}

func (stubUsers) Get(_ context.Context, id int64) (persistence.User, error) {
	return persistence.User{ID: id, Username: "u", Discriminator: 1, Bot: id == 2}, nil
}

type stubGuilds struct{}

func (stubGuilds) Call(_ context.Context, req actors.GuildRequest) (actors.GuildResponse, error) {
	u := discord.User{ID: snowflake.ID(req.ActorID), Username: "u", Discriminator: "0001"}
	var body any
	switch req.Op {
	case "gateway.guild_create":
		g := actors.GatewayGuild{Guild: discord.Guild{ID: snowflake.ID(req.GuildID), Name: "g", Roles: []discord.Role{},
			Emojis: []any{}, Stickers: []any{}, Features: []string{}}, MemberCount: 1,
			Channels: []discord.Channel{}, Members: []discord.Member{{User: &u, Roles: []snowflake.ID{}}},
			VoiceStates: []any{}, Threads: []any{}, StageInstances: []any{}, GuildScheduledEvents: []any{},
			SoundboardSounds: []any{}, Presences: []json.RawMessage{}}
		body = g
	case "gateway.member_ids":
		body = actors.MemberIDsReply{MemberIDs: []snowflake.ID{u.ID}}
	case "gateway.members":
		body = actors.MembersReply{Members: []discord.Member{{User: &u, Roles: []snowflake.ID{}}}, NotFound: []snowflake.ID{}}
	default:
		return actors.GuildResponse{Status: http.StatusNotFound, Body: []byte(`{}`)}, nil
	}
	b, _ := json.Marshal(body)
	return actors.GuildResponse{Status: http.StatusOK, Body: b}, nil
}

// stubServer is a Server over the stand-ins.
func stubServer(edit func(*Config)) *Server {
	cfg := Config{Tokens: stubTokens{}, Store: stubStore{}, Users: stubUsers{}, Guilds: stubGuilds{},
		PresenceGrace: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if edit != nil {
		edit(&cfg)
	}
	return New(cfg)
}

// nullConn is a net.Conn that accepts every write and never has data.
type nullConn struct {
	once   sync.Once
	closed chan struct{}
}

func newNullConn() *nullConn { return &nullConn{closed: make(chan struct{})} }

func (c *nullConn) Read([]byte) (int, error) {
	<-c.closed
	return 0, net.ErrClosed
}
func (c *nullConn) Write(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}
func (c *nullConn) Close() error                     { c.once.Do(func() { close(c.closed) }); return nil }
func (c *nullConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *nullConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *nullConn) SetDeadline(time.Time) error      { return nil }
func (c *nullConn) SetReadDeadline(time.Time) error  { return nil }
func (c *nullConn) SetWriteDeadline(time.Time) error { return nil }
