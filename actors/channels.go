package actors

import (
	"context"
	"strconv"
	"time"

	"github.com/accordchat/accord/proto/channelpb"
)

// Channels is the typed client of the channel grains.
type Channels struct {
	s *System
}

// Channels returns the client of the channel grains.
func (s *System) Channels() *Channels { return s.channels }

// Fencings counts channel activations on this node that were fenced out by
// a newer owner.
func (s *System) Fencings() int64 { return s.fencings.Load() }

// ChannelRequest is one call of a channel operation.
type ChannelRequest struct {
	ChannelID int64
	Op        string
	ActorID   int64
	Params    map[string]string
	Body      []byte
	// Authz is the guild grain's channel.authorize answer (JSON); empty
	// for DM channels.
	Authz []byte
}

// Call runs req in its channel's grain. Errors are ErrUnavailable (the
// operation may or may not have been applied; a send retried with its
// nonce is applied once); Discord errors come back as a response.
func (ch *Channels) Call(ctx context.Context, req ChannelRequest) (GuildResponse, error) {
	if req.ChannelID <= 0 {
		return GuildResponse{}, ErrUnknownGuild
	}
	msg := &channelpb.ChannelCall{ChannelId: req.ChannelID, Op: req.Op, ActorId: req.ActorID, Params: req.Params,
		Body: req.Body, NowMs: time.Now().UnixMilli(), Authz: req.Authz}
	res, err := ch.s.request(ctx, channelKind, strconv.FormatInt(req.ChannelID, 10), msg)
	if err != nil {
		return GuildResponse{}, err
	}
	r, ok := res.(*channelpb.ChannelReply)
	if !ok {
		return GuildResponse{}, unexpectedReply(res)
	}
	return GuildResponse{Status: int(r.GetStatus()), Body: r.GetBody()}, nil
}
