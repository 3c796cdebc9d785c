package actors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/channelpb"
	"github.com/accordchat/accord/proto/guildpb"
	"github.com/accordchat/accord/snowflake"
)

// GuildStore is what guild grains read and write. *persistence.Store
// implements it.
type GuildStore interface {
	AcquireGuildEpoch(ctx context.Context, guildID int64) (int64, error)
	AcquireExistingGuildEpoch(ctx context.Context, guildID int64) (epoch int64, ok bool, err error)
	LoadGuild(ctx context.Context, id int64) (persistence.GuildSnapshot, error)
	WriteGuild(ctx context.Context, guildID, epoch int64, fn func(w *persistence.GuildWriter) error) error
	MemberUserByID(ctx context.Context, id int64) (persistence.MemberUser, error)
	CountGuildsOfUser(ctx context.Context, userID int64) (int, error)
}

// IDSource issues snowflakes for the ids grains create.
type IDSource interface {
	Next() (snowflake.ID, error)
}

// guildGrain is the activation of one guild: kind "Guild", identity the
// guild id in decimal. Its state is owned by its mailbox.
//
// It loads the guild at its first call. Every change is written to
// PostgreSQL in one transaction first; only when that commits does the grain
// change its memory, answer, and emit events. A failed write leaves memory
// as it was, so memory never runs ahead of the database.
//
// One owner at a time: before it loads, the grain takes the guild's owner
// epoch (persistence.AcquireGuildEpoch to create the guild,
// AcquireExistingGuildEpoch otherwise), and every write commits only under
// it. When a newer activation has taken the guild over (disthash briefly
// runs two during a topology change), the write fails with
// persistence.ErrFenced: the grain stops itself, answers statusFenced, and
// System.request sends the call again to the current owner, which loaded
// every change the old one committed.
type guildGrain struct {
	sys     *System
	id      int64
	st      *guildState // nil until loaded (or when the guild does not exist)
	missing bool        // loaded, and there is no such guild
	epoch   int64       // owner epoch; 0 until taken (again) before a load
	fenced  bool        // a newer activation owns the guild: refuse everything
}

var _ guildpb.Guild = (*guildGrain)(nil)

func (g *guildGrain) Init(ctx pcluster.GrainContext) {
	g.sys.hosted.activated(KindGuild, ctx.Identity())
	if id, err := strconv.ParseInt(ctx.Identity(), 10, 64); err == nil && id > 0 {
		g.id = id
	}
}

func (g *guildGrain) Terminate(ctx pcluster.GrainContext) {
	g.sys.hosted.stopped(KindGuild, ctx.Identity())
}

// ReceiveDefault takes the calls the typed client sends as plain messages
// (see System.request).
func (g *guildGrain) ReceiveDefault(ctx pcluster.GrainContext) {
	m, ok := ctx.Message().(*guildpb.GuildCall)
	if !ok {
		return
	}
	r, _ := g.Call(m, ctx)
	if then := m.GetThen(); then != nil && r.GetStatus() == http.StatusOK && m.GetOp() == "channel.authorize" && ctx.Sender() != nil {
		if g.forward(ctx, then, r.GetBody()) {
			return
		}
	}
	ctx.Respond(r)
}

// forward hands an authorized channel call on to its channel grain, which
// answers the caller: one hop back to the caller and out again saved on
// every send. It does so only when the channel grain's PID is known: looking
// it up could activate the grain, which the mailbox must not wait for; the
// caller then gets the authorization and calls the channel grain itself. If
// the PID turns out to be stale, the caller gets a dead letter and retries
// (see System.request).
func (g *guildGrain) forward(ctx pcluster.GrainContext, then *channelpb.ChannelCall, authz []byte) bool {
	pid, ok := g.sys.cluster.PidCache.Get(strconv.FormatInt(then.GetChannelId(), 10), channelKind)
	if !ok || pid == nil {
		return false
	}
	// A copy: the caller's message is not the grain's to change.
	fwd := &channelpb.ChannelCall{ChannelId: then.GetChannelId(), Op: then.GetOp(), ActorId: then.GetActorId(),
		Params: then.GetParams(), Body: then.GetBody(), NowMs: then.GetNowMs(), Authz: authz}
	ctx.RequestWithCustomSender(pid, fwd, ctx.Sender())
	return true
}

// gcall is one operation in progress.
type gcall struct {
	g      *guildGrain
	ctx    pcluster.GrainContext
	st     *guildState // nil only for ops that run before the guild exists
	actor  int64
	params map[string]string
	body   []byte
	now    time.Time
}

// reply is an operation's answer.
type reply struct {
	status int
	body   any // marshalled to JSON; nil for 204
}

// guildOp is one operation of the guild grain.
type guildOp struct {
	// create marks the one op that runs when the guild does not exist yet.
	create bool
	// pure marks an op that never changes the state: after any other op
	// the grain forgets what it derived from the state (guildState.changed).
	pure bool
	run  func(c *gcall) (reply, *discord.Error)
}

// guildOps is the table of operations, filled by the guild_*.go files.
var guildOps = map[string]guildOp{}

func registerGuildOps(ops map[string]guildOp) {
	for name, op := range ops {
		if _, dup := guildOps[name]; dup {
			panic("actors: guild op registered twice: " + name)
		}
		guildOps[name] = op
	}
}

// errStore marks a failed store call; the caller gets a retryable 503.
var errStore = &discord.Error{Status: http.StatusServiceUnavailable, Code: discord.CodeServiceUnavailable,
	Message: "The guild could not be saved or loaded; try again."}

func (g *guildGrain) Call(req *guildpb.GuildCall, ctx pcluster.GrainContext) (*guildpb.GuildReply, error) {
	op, ok := guildOps[req.GetOp()]
	if !ok {
		return errorReply(discord.ErrNotFound), nil
	}
	if g.fenced {
		return errorReply(errFencedOut), nil
	}
	if g.id == 0 || req.GetGuildId() != g.id {
		return errorReply(discord.ErrUnknownGuild), nil
	}
	missing, err := g.load(op.create)
	if err != nil {
		g.sys.log.Error("loading guild failed", slog.Int64("guild", g.id), slog.Any("error", err))
		return errorReply(errStore), nil
	}
	if missing != op.create {
		if op.create {
			return errorReply(&discord.Error{Status: http.StatusConflict, Code: 0, Message: "Guild exists"}), nil
		}
		return errorReply(discord.ErrUnknownGuild), nil
	}
	now := time.UnixMilli(req.GetNowMs())
	if req.GetNowMs() == 0 {
		now = time.Now()
	}
	c := &gcall{g: g, ctx: ctx, st: g.st, actor: req.GetActorId(), params: req.GetParams(), body: req.GetBody(), now: now}
	r, derr := op.run(c)
	if !op.pure && g.st != nil {
		g.st.changed()
	}
	if derr != nil {
		return errorReply(derr), nil
	}
	out := &guildpb.GuildReply{Status: int32(r.status)}
	if b, ok := r.body.(rawBody); ok {
		out.Body = b
	} else if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return errorReply(discord.ErrInternal), nil
		}
		out.Body = b
	}
	return out, nil
}

func errorReply(e *discord.Error) *guildpb.GuildReply {
	b, _ := json.Marshal(e)
	return &guildpb.GuildReply{Status: int32(e.Status), Body: b}
}

// load reads the guild once per activation (and again after a write whose
// outcome is unknown), after taking the owner epoch: taking it waits for the
// writes in flight under older epochs, so the load sees all they committed.
// It reports whether the guild is missing.
//
// Only a creation takes an epoch for a guild that does not exist (the
// creating grain must hold one before the guild's first write). Other calls
// take one only if the guild exists: for a made-up id they answer that it is
// missing, write nothing, and remember nothing, so the next call looks
// again.
func (g *guildGrain) load(create bool) (missing bool, err error) {
	if g.st != nil || g.missing {
		return g.missing, nil
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	if g.epoch == 0 {
		var epoch int64
		if create {
			epoch, err = g.sys.cfg.Guilds.AcquireGuildEpoch(ctx, g.id)
		} else {
			var ok bool
			epoch, ok, err = g.sys.cfg.Guilds.AcquireExistingGuildEpoch(ctx, g.id)
			if err == nil && !ok {
				return true, nil
			}
		}
		if err != nil {
			return false, err
		}
		g.epoch = epoch
	}
	snap, err := g.sys.cfg.Guilds.LoadGuild(ctx, g.id)
	if errors.Is(err, persistence.ErrNotFound) {
		g.missing = true
		return true, nil
	}
	if err != nil {
		return false, err
	}
	g.st = newGuildState(snap)
	return false, nil
}

func (g *guildGrain) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), g.sys.cfg.RequestTimeout)
}

// write commits fn's changes under the grain's owner epoch; on success
// apply changes memory. On failure memory is untouched and the caller gets a
// retryable error; a fenced-out grain stops itself (see guildGrain).
func (c *gcall) write(fn func(w *persistence.GuildWriter) error, apply func()) *discord.Error {
	ctx, cancel := c.g.storeCtx()
	defer cancel()
	if err := c.g.sys.cfg.Guilds.WriteGuild(ctx, c.g.id, c.g.epoch, fn); err != nil {
		if errors.Is(err, persistence.ErrFenced) {
			c.g.fence(c.ctx)
			return errFencedOut
		}
		c.g.sys.log.Error("writing guild failed", slog.Int64("guild", c.g.id), slog.Any("error", err))
		// What the database holds is unknown now (the transaction may even
		// still commit): take a new epoch, which waits for it or fences it
		// out, and reload at the next call.
		c.g.st, c.g.missing, c.g.epoch = nil, false, 0
		return errStore
	}
	if apply != nil {
		apply()
	}
	return nil
}

// fence stops a grain that a newer activation has taken the guild over from.
// It refuses every call from now on; the calls already in its mailbox get
// statusFenced too, and later ones a dead letter: both are retried.
func (g *guildGrain) fence(ctx pcluster.GrainContext) {
	if g.fenced {
		return
	}
	g.fenced = true
	g.st, g.missing = nil, false
	g.sys.guildFencings.Add(1)
	g.sys.log.Warn("guild grain fenced out by a newer owner; stopping", slog.Int64("guild", g.id), slog.Int64("epoch", g.epoch))
	ctx.Poison(ctx.Self())
}

// emit publishes an event to recipients after a committed change.
func (c *gcall) emit(typ string, channelID int64, data any, recipients []int64) {
	if len(recipients) == 0 {
		return
	}
	b, err := json.Marshal(data)
	if err != nil {
		c.g.sys.log.Error("encoding event failed", slog.String("type", typ), slog.Any("error", err))
		return
	}
	c.g.sys.Publish(Event{Type: typ, GuildID: c.g.id, ChannelID: channelID, Data: b, Recipients: recipients})
}

// decode reads the JSON body into v (see decodeBody).
func (c *gcall) decode(v any) *discord.Error { return decodeBody(c.body, v) }

// decodeBody reads a grain call's JSON body into v: nothing for an empty
// body, 50109 for malformed JSON, 50035 for a value of the wrong type.
func decodeBody(body []byte, v any) *discord.Error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			field := typeErr.Field
			if field == "" {
				field = "_body"
			}
			return discord.Invalid(field, "BASE_TYPE_INVALID", "Value has the wrong type.")
		}
		return discord.ErrInvalidJSON
	}
	return nil
}

// id parses a snowflake parameter; ok is false when absent or malformed.
func (c *gcall) id(name string) (int64, bool) {
	v, err := snowflake.Parse(c.params[name])
	return int64(v), err == nil && v > 0
}

// newID issues a snowflake for a created entity.
func (c *gcall) newID() (int64, *discord.Error) {
	id, err := c.g.sys.cfg.IDs.Next()
	if err != nil {
		return 0, discord.ErrUnavailable
	}
	return int64(id), nil
}

// nullableJSON is an optional JSON field that tells absent from null.
type nullableJSON[T any] struct {
	Set   bool // present with a value
	Null  bool // present as null
	Value T
}

func (n *nullableJSON[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	if err := json.Unmarshal(b, &n.Value); err != nil {
		return err
	}
	n.Set = true
	return nil
}
