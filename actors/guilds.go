package actors

import (
	"context"
	"strconv"
	"time"

	"github.com/accordchat/accord/proto/guildpb"
)

// Guilds is the typed client of the guild grains.
type Guilds struct {
	s *System
}

// Guilds returns the client of the guild grains.
func (s *System) Guilds() *Guilds { return s.guilds }

// GuildFencings counts guild activations on this node that were fenced out
// by a newer owner (see Fencings for channels).
func (s *System) GuildFencings() int64 { return s.guildFencings.Load() }

// GuildRequest is one call of a guild operation.
type GuildRequest struct {
	GuildID int64
	Op      string
	ActorID int64
	// Params carries the path ids and query parameters.
	Params map[string]string
	// Body is the JSON request body, if any.
	Body []byte
}

// GuildResponse is the operation's HTTP status and JSON body.
type GuildResponse struct {
	Status int
	Body   []byte
}

// Call runs req in its guild's grain. The error is ErrUnavailable (the
// operation may or may not have been applied) or a grain failure; Discord
// errors come back as a Response with their status. An activation fenced out
// by a newer owner did nothing: the call goes to the current owner, within
// ctx's deadline.
func (g *Guilds) Call(ctx context.Context, req GuildRequest) (GuildResponse, error) {
	if req.GuildID <= 0 {
		return GuildResponse{}, ErrUnknownGuild
	}
	msg := &guildpb.GuildCall{GuildId: req.GuildID, Op: req.Op, ActorId: req.ActorID, Params: req.Params,
		Body: req.Body, NowMs: time.Now().UnixMilli()}
	res, err := g.s.request(ctx, guildKind, strconv.FormatInt(req.GuildID, 10), msg)
	if err != nil {
		return GuildResponse{}, err
	}
	r, ok := res.(*guildpb.GuildReply)
	if !ok {
		return GuildResponse{}, unexpectedReply(res)
	}
	return GuildResponse{Status: int(r.GetStatus()), Body: r.GetBody()}, nil
}
