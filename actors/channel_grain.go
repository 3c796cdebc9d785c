package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/channelpb"
)

// ChannelStore is what channel grains read and write besides the message
// writer. *persistence.Store implements it.
type ChannelStore interface {
	ChannelGuild(ctx context.Context, channelID int64) (int64, error)
	AcquireChannelEpoch(ctx context.Context, channelID int64) (int64, error)
	MessageByID(ctx context.Context, channelID, id int64) (persistence.Message, error)
	EditMessage(ctx context.Context, epoch, channelID, id int64, content string, editedAt time.Time,
		mentions, mentionRoles []int64, mentionEveryone bool) (persistence.Message, error)
	DeleteMessages(ctx context.Context, epoch, channelID int64, ids []int64) ([]int64, error)
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]persistence.User, error)
	DMRecipients(ctx context.Context, channelID int64) ([]int64, error)
	ReactionPinStore
	DMStore
}

// MessageWriter commits message rows in groups; *persistence.MessageWriter
// implements it.
type MessageWriter interface {
	Submit(m persistence.Message, epoch int64, done func(error)) error
}

// channelGrain is the activation of one channel: kind "Channel", identity
// the channel id. Its state is owned by its mailbox.
//
// A send is answered asynchronously: the grain assigns the snowflake, hands
// the row to the node's writer and goes on with its mailbox; the writer's
// completion comes back into the mailbox (in submission order), and only
// then does the grain answer the sender and fan the event out. Every other
// write is a fenced single transaction done in the mailbox.
type channelGrain struct {
	sys  *System
	id   int64
	self *actor.PID
	root *actor.RootContext

	loaded  bool
	missing bool
	guildID int64   // 0 for DM channels
	dm      []int64 // DM recipients, loaded once, kept current by the recipient ops
	dmKind  int     // discord.ChannelDM or ChannelGroupDM; 0 for guild channels

	epoch  int64 // owner epoch; 0 until the first write
	fenced bool  // a newer activation owns the channel: refuse everything

	seq     uint64
	pending map[uint64]*pendingSend
	nonces  *nonceCache
	// lastSend is each author's last accepted send, for slow mode.
	lastSend map[int64]time.Time

	// viewers is the last list of the channel's viewers a guild grain's
	// authorization included, computed from guild state viewersVersion
	// (hasViewers false until the first). Shared with pending sends: never
	// modified in place.
	viewers        []int64
	viewersVersion uint64
	hasViewers     bool

	// authzs is the last authorization decoded per actor: the guild grain
	// answers the same bytes while its state and the actor's mentions do not
	// change. The decoded values are shared: never modified.
	authzs map[int64]*decodedAuthz
}

type decodedAuthz struct {
	raw      []byte
	a        ChannelAuthz
	version  uint64
	included bool
}

// channelAuthzMax bounds channelGrain.authzs; past it the map starts over.
const channelAuthzMax = 1024

// decodeAuthz is DecodeAuthz, remembering the last answer per actor.
func (g *channelGrain) decodeAuthz(actor int64, raw []byte) (ChannelAuthz, uint64, bool, error) {
	if d := g.authzs[actor]; d != nil && bytes.Equal(d.raw, raw) {
		return d.a, d.version, d.included, nil
	}
	a, version, included, err := DecodeAuthz(raw)
	if err != nil {
		return a, version, included, err
	}
	if g.authzs == nil || len(g.authzs) >= channelAuthzMax {
		g.authzs = map[int64]*decodedAuthz{}
	}
	g.authzs[actor] = &decodedAuthz{raw: raw, a: a, version: version, included: included}
	return a, version, included, nil
}

// errNeedViewers answers a call whose authorization left the viewers out
// when the grain has no list of that guild state (StatusNeedViewers).
var errNeedViewers = &discord.Error{Status: StatusNeedViewers, Message: "The channel grain needs the viewer list."}

var _ channelpb.Channel = (*channelGrain)(nil)

func (g *channelGrain) Init(ctx pcluster.GrainContext) {
	g.sys.hosted.activated(KindChannel, ctx.Identity())
	if id, err := strconv.ParseInt(ctx.Identity(), 10, 64); err == nil && id > 0 {
		g.id = id
	}
	g.self = ctx.Self()
	g.root = ctx.ActorSystem().Root
	g.pending = map[uint64]*pendingSend{}
	g.nonces = newNonceCache(4096, 10*time.Minute)
	g.lastSend = map[int64]time.Time{}
}

// stopCommitWait bounds how long a stopping channel grain waits for the
// commits of its pending sends.
const stopCommitWait = 3 * time.Second

func (g *channelGrain) Terminate(ctx pcluster.GrainContext) {
	g.sys.hosted.stopped(KindChannel, ctx.Identity())
	// Sends still waiting for their commit are finished as if the
	// completion had reached the mailbox: answered and fanned out, in
	// order, so that a grain stopped by a drain or a passivation leaves no
	// message committed without its answer and its event. Past
	// stopCommitWait they get a retryable answer: the commit may still
	// happen, and a retry with the nonce finds it.
	seqs := make([]uint64, 0, len(g.pending))
	for seq := range g.pending {
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	deadline := time.NewTimer(stopCommitWait)
	defer deadline.Stop()
	for _, seq := range seqs {
		p := g.pending[seq]
		select {
		case err := <-p.committed:
			g.finishSend(&commitDone{seq: seq, err: err})
		case <-deadline.C:
			deadline.Reset(0)
			p.answer(g, channelError(discord.ErrUnavailable))
			delete(g.pending, seq)
		}
	}
}

// ReceiveDefault takes the writer's completions, and the calls the typed
// client sends as plain messages (see System.request).
func (g *channelGrain) ReceiveDefault(ctx pcluster.GrainContext) {
	switch m := ctx.Message().(type) {
	case *commitDone:
		g.finishSend(m)
	case *channelpb.ChannelCall:
		_ = g.Call(m, func(r *channelpb.ChannelReply) { ctx.Respond(r) }, nil, ctx)
	}
}

// ccall is one channel operation in progress.
type ccall struct {
	g       *channelGrain
	ctx     pcluster.GrainContext
	req     *channelpb.ChannelCall
	actor   int64
	params  map[string]string
	authz   ChannelAuthz
	now     time.Time
	respond func(*channelpb.ChannelReply)
}

type channelOp func(c *ccall) (reply, *discord.Error)

// channelOps is the table of operations, filled by the channel_*.go files.
// An op that answers later returns a zero reply with status 0.
var channelOps = map[string]channelOp{}

func registerChannelOps(ops map[string]channelOp) {
	for name, op := range ops {
		if _, dup := channelOps[name]; dup {
			panic("actors: channel op registered twice: " + name)
		}
		channelOps[name] = op
	}
}

func channelError(e *discord.Error) *channelpb.ChannelReply {
	b, _ := json.Marshal(e)
	return &channelpb.ChannelReply{Status: int32(e.Status), Body: b}
}

func channelReply(r reply) *channelpb.ChannelReply {
	out := &channelpb.ChannelReply{Status: int32(r.status)}
	if b, ok := r.body.(rawBody); ok {
		out.Body = b
	} else if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return channelError(discord.ErrInternal)
		}
		out.Body = b
	}
	return out
}

func (g *channelGrain) Call(req *channelpb.ChannelCall, respond func(*channelpb.ChannelReply), _ func(error), ctx pcluster.GrainContext) error {
	op, ok := channelOps[req.GetOp()]
	switch {
	case !ok:
		respond(channelError(discord.ErrNotFound))
		return nil
	case g.fenced:
		respond(channelError(errFencedOut))
		return nil
	case g.id == 0 || req.GetChannelId() != g.id:
		respond(channelError(discord.ErrUnknownChannel))
		return nil
	}
	if err := g.load(); err != nil {
		g.sys.log.Error("loading channel failed", slog.Int64("channel", g.id), slog.Any("error", err))
		respond(channelError(errStore))
		return nil
	}
	if g.missing {
		respond(channelError(discord.ErrUnknownChannel))
		return nil
	}
	now := time.UnixMilli(req.GetNowMs())
	if req.GetNowMs() == 0 {
		now = time.Now()
	}
	c := &ccall{g: g, ctx: ctx, req: req, actor: req.GetActorId(), params: req.GetParams(), now: now, respond: respond}
	if e := g.authorize(c); e != nil {
		respond(channelError(e))
		return nil
	}
	r, e := op(c)
	switch {
	case e != nil:
		respond(channelError(e))
	case r.status != 0:
		respond(channelReply(r))
	}
	return nil
}

// load learns the channel's guild (or its DM recipients) once.
func (g *channelGrain) load() error {
	if g.loaded {
		return nil
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	guildID, err := g.sys.cfg.Channels.ChannelGuild(ctx, g.id)
	if errors.Is(err, persistence.ErrNotFound) {
		g.loaded, g.missing = true, true
		return nil
	}
	if err != nil {
		return err
	}
	if guildID == 0 {
		if err := g.loadDM(ctx); err != nil {
			return err
		}
	}
	g.guildID, g.loaded = guildID, true
	return nil
}

func (g *channelGrain) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.sys.cfg.RequestTimeout)
}

// dmPermissions are what a recipient may do in a DM channel.
const dmPermissions = permissions.ViewChannel | permissions.SendMessages | permissions.ReadMessageHistory |
	permissions.AddReactions | permissions.EmbedLinks | permissions.AttachFiles | permissions.UseExternalEmojis |
	permissions.MentionEveryone | permissions.SendTTSMessages

// authorize fills c.authz: from the guild grain's answer carried by the
// call, or for DM channels from the recipients.
func (g *channelGrain) authorize(c *ccall) *discord.Error {
	if g.guildID != 0 {
		a, version, included, err := g.decodeAuthz(c.actor, c.req.GetAuthz())
		if err != nil || int64(a.ChannelID) != g.id {
			return discord.ErrInternal
		}
		if !a.Permissions.Has(permissions.ViewChannel) {
			return discord.ErrMissingAccess
		}
		switch {
		case included:
			g.viewers, g.viewersVersion, g.hasViewers = a.Viewers, version, true
		case g.hasViewers && g.viewersVersion == version:
			a.Viewers = g.viewers
		default:
			return errNeedViewers
		}
		c.authz = a
		return nil
	}
	member := false
	for _, id := range g.dm {
		if id == c.actor {
			member = true
		}
	}
	if !member {
		return discord.ErrMissingAccess
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	users, err := g.sys.cfg.Channels.UsersByIDs(ctx, g.dm)
	if err != nil {
		return errStore
	}
	u := users[c.actor]
	c.authz = ChannelAuthz{ChannelID: 0, ChannelType: g.dmType(), Permissions: dmPermissions,
		Author: wireUser(u), Viewers: append([]int64(nil), g.dm...), Mentions: []discord.User{}, AllowRepliedUser: true}
	var body authorizeBody
	if len(c.req.GetBody()) > 0 && json.Unmarshal(c.req.GetBody(), &body) == nil && body.Content != nil {
		for _, m := range userMention.FindAllStringSubmatch(*body.Content, -1) {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			if ru, ok := users[id]; ok && !containsUser(c.authz.Mentions, id) {
				c.authz.Mentions = append(c.authz.Mentions, wireUser(ru))
			}
		}
		if body.AllowedMentions != nil {
			c.authz.AllowRepliedUser = body.AllowedMentions.RepliedUser
		}
	}
	return nil
}

func (g *channelGrain) dmType() int { return g.dmKind }

// ensureEpoch takes the owner epoch before the grain's first write.
func (g *channelGrain) ensureEpoch() *discord.Error {
	if g.epoch != 0 {
		return nil
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	epoch, err := g.sys.cfg.Channels.AcquireChannelEpoch(ctx, g.id)
	if err != nil {
		g.sys.log.Error("acquiring channel epoch failed", slog.Int64("channel", g.id), slog.Any("error", err))
		return errStore
	}
	g.epoch = epoch
	return nil
}

// storeErr maps a failed write: a fenced-out activation stops itself so the
// next call activates the current owner; anything else is retryable.
func (g *channelGrain) storeErr(ctx pcluster.GrainContext, err error) *discord.Error {
	if errors.Is(err, persistence.ErrNotFound) {
		return discord.ErrUnknownMessage
	}
	if errors.Is(err, persistence.ErrFenced) {
		// Nothing was written: the caller retries on the new owner.
		g.fence(ctx)
		return errFencedOut
	}
	g.sys.log.Error("channel write failed", slog.Int64("channel", g.id), slog.Any("error", err))
	return discord.ErrUnavailable
}

func (g *channelGrain) fence(ctx pcluster.GrainContext) {
	if g.fenced {
		return
	}
	g.fenced = true
	g.sys.fencings.Add(1)
	g.sys.log.Warn("channel grain fenced out by a newer owner; stopping", slog.Int64("channel", g.id))
	ctx.Poison(ctx.Self())
}

// emit publishes a channel event to the channel's viewers.
func (c *ccall) emit(typ string, data any, recipients []int64) {
	if len(recipients) == 0 {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		c.g.sys.log.Error("encoding event failed", slog.String("type", typ), slog.Any("error", err))
		return
	}
	c.g.sys.Publish(Event{Type: typ, GuildID: c.g.guildID, ChannelID: c.g.id, Data: b, Recipients: recipients})
}

// decode reads the JSON body into v.
func (c *ccall) decode(v any) *discord.Error { return decodeBody(c.req.GetBody(), v) }

func (c *ccall) messageID() (int64, *discord.Error) {
	id, err := strconv.ParseInt(c.params["message_id"], 10, 64)
	if err != nil || id <= 0 {
		return 0, discord.ErrUnknownMessage
	}
	return id, nil
}

func containsUser(us []discord.User, id int64) bool {
	for _, u := range us {
		if int64(u.ID) == id {
			return true
		}
	}
	return false
}

func init() {
	registerChannelOps(map[string]channelOp{
		// Internal: a DM channel's authorization for the read paths.
		"authorize": func(c *ccall) (reply, *discord.Error) {
			b, err := encodeAuthz(&c.authz, 0, true)
			if err != nil {
				return reply{}, discord.ErrInternal
			}
			return reply{status: 200, body: rawBody(b)}, nil
		},
	})
}
