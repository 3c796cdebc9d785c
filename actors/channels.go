package actors

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/accordchat/accord/proto/channelpb"
	"github.com/accordchat/accord/proto/guildpb"
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

// CallAuthorized runs req in its channel grain with the authorization that
// guild guildID's grain gives req's actor there (its channel.authorize with
// authParams; req.Body goes along for the mentions). The guild grain hands
// the call on to the channel grain itself when it can, so the answer comes
// straight from the channel grain. authorized is false when the guild grain
// refused: resp is then its answer. Errors are as Call's.
func (ch *Channels) CallAuthorized(ctx context.Context, guildID int64, authParams map[string]string, req ChannelRequest) (resp GuildResponse, authorized bool, err error) {
	if guildID <= 0 {
		return GuildResponse{}, false, ErrUnknownGuild
	}
	if req.ChannelID <= 0 {
		return GuildResponse{}, false, ErrUnknownGuild
	}
	now := time.Now().UnixMilli()
	msg := &guildpb.GuildCall{GuildId: guildID, Op: "channel.authorize", ActorId: req.ActorID, Params: authParams,
		Body: req.Body, NowMs: now,
		Then: &channelpb.ChannelCall{ChannelId: req.ChannelID, Op: req.Op, ActorId: req.ActorID, Params: req.Params,
			Body: req.Body, NowMs: now}}
	res, err := ch.s.request(ctx, guildKind, strconv.FormatInt(guildID, 10), msg)
	if err != nil {
		return GuildResponse{}, false, err
	}
	switch r := res.(type) {
	case *channelpb.ChannelReply:
		return GuildResponse{Status: int(r.GetStatus()), Body: r.GetBody()}, true, nil
	case *guildpb.GuildReply:
		if r.GetStatus() != http.StatusOK {
			return GuildResponse{Status: int(r.GetStatus()), Body: r.GetBody()}, false, nil
		}
		// Not handed on: the guild grain did not know where the channel
		// grain is.
		req.Authz = r.GetBody()
		resp, err := ch.Call(ctx, req)
		return resp, err == nil, err
	default:
		return GuildResponse{}, false, unexpectedReply(res)
	}
}
