package actors

import (
	"encoding/json"
	"errors"

	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/proto/channelpb"
	"github.com/accordchat/accord/snowflake"
)

// Message sends, edits, deletes and typing.
func init() {
	registerChannelOps(map[string]channelOp{
		"message.create": createMessage,
		"message.update": updateMessage,
		"message.delete": deleteMessage,
		"typing":         typing,
	})
}

const (
	maxContent = 2000
	maxNonce   = 25
	// messageTypeReply is Discord's REPLY message type; 0 is DEFAULT.
	messageTypeReply = 19
)

// ErrSlowMode is the 429 of slow mode; the body carries retry_after.
type slowModeError struct {
	Message    string  `json:"message"`
	RetryAfter float64 `json:"retry_after"`
	Global     bool    `json:"global"`
	Code       int     `json:"code"`
}

type createMessageBody struct {
	Content          *string                   `json:"content"`
	Nonce            json.RawMessage           `json:"nonce"`
	EnforceNonce     bool                      `json:"enforce_nonce"`
	TTS              bool                      `json:"tts"`
	MessageReference *discord.MessageReference `json:"message_reference"`
	Embeds           []json.RawMessage         `json:"embeds"`
	StickerIDs       []json.RawMessage         `json:"sticker_ids"`
}

// nonceString reads a nonce given as a JSON string or integer.
func nonceString(raw json.RawMessage) (string, bool, *discord.Error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", false, discord.Invalid("nonce", "BASE_TYPE_INVALID", "Nonce must be a string or an integer.")
		}
		s = n.String()
	}
	if len(s) > maxNonce {
		return "", false, discord.Invalid("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
	}
	return s, true, nil
}

// pendingSend is a send waiting for its commit.
type pendingSend struct {
	senders []*actor.PID    // the sender and retries with the same nonce
	msg     discord.Message // the answer
	// What MESSAGE_CREATE adds to the answer: the member in a guild, the
	// channel type in a DM.
	member      *discord.Member
	channelType *int
	viewers     []int64
	nonce       string
	author      int64
	prevAt      time.Time // the author's previous slow-mode stamp, restored on failure
	// committed receives the writer's completion too (capacity 1), for a
	// grain that stops before the completion reaches its mailbox.
	committed chan error
}

// commitDone is the writer's completion, delivered into the mailbox.
type commitDone struct {
	seq uint64
	err error
}

func (p *pendingSend) answer(g *channelGrain, r *channelpb.ChannelReply) {
	for _, s := range p.senders {
		g.root.Send(s, r)
	}
}

func createMessage(c *ccall) (reply, *discord.Error) {
	a := &c.authz
	if !a.Permissions.Has(permissions.SendMessages) {
		return reply{}, discord.ErrMissingPerms
	}
	var body createMessageBody
	if !decodeCreateFast(c.req.GetBody(), &body) {
		body = createMessageBody{}
		if e := c.decode(&body); e != nil {
			return reply{}, e
		}
	}
	nonce, hasNonce, e := nonceString(body.Nonce)
	if e != nil {
		return reply{}, e
	}
	content := ""
	if body.Content != nil {
		content = *body.Content
	}
	if strings.TrimSpace(content) == "" {
		if len(body.Embeds) > 0 || len(body.StickerIDs) > 0 {
			return reply{}, discord.Invalid("embeds", "UNSUPPORTED", "Embeds and stickers are not supported yet; send content.")
		}
		return reply{}, discord.ErrEmptyMessage
	}
	if utf8.RuneCountInString(content) > maxContent {
		return reply{}, discord.Invalid("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	}
	g := c.g
	// A 1:1 DM needs a guild in common, as when it was opened (friends
	// come later).
	if g.guildID == 0 && g.dmType() == discord.ChannelDM {
		if e := g.checkDMPeer(c.actor); e != nil {
			return reply{}, e
		}
	}
	// A retried send with the same nonce gets the first message.
	if hasNonce && body.EnforceNonce {
		if ent := g.nonces.get(c.actor, nonce, c.now); ent != nil {
			if ent.pending != 0 {
				if p := g.pending[ent.pending]; p != nil {
					p.senders = append(p.senders, c.ctx.Sender())
					return reply{}, nil
				}
			} else {
				return reply{status: http.StatusOK, body: json.RawMessage(ent.answer)}, nil
			}
		}
	}
	bypass := a.Permissions.Has(permissions.ManageMessages) || a.Permissions.Has(permissions.ManageChannels)
	if a.RateLimitPerUser > 0 && !bypass {
		if last, ok := g.lastSend[c.actor]; ok {
			wait := last.Add(time.Duration(a.RateLimitPerUser) * time.Second).Sub(c.now)
			if wait > 0 {
				return reply{status: http.StatusTooManyRequests, body: slowModeError{
					Message: "You are being rate limited.", RetryAfter: math.Ceil(wait.Seconds()*1000) / 1000, Code: 20016}}, nil
			}
		}
	}

	row := persistence.Message{ChannelID: g.id, GuildID: g.guildID, AuthorID: c.actor, Content: content,
		TTS: body.TTS && a.Permissions.Has(permissions.SendTTSMessages), MentionEveryone: a.MentionEveryone,
		Mentions: []int64{}, MentionRoles: []int64{}}
	if hasNonce {
		row.Nonce = &nonce
	}
	mentions := append([]discord.User(nil), a.Mentions...)
	var referenced *discord.Message
	if ref := body.MessageReference; ref != nil && ref.MessageID != nil {
		r, e := c.reference(ref)
		if e != nil {
			return reply{}, e
		}
		if r != nil {
			row.Type, row.RefMessageID, row.RefChannelID, row.RefGuildID = messageTypeReply, r.ID, g.id, g.guildID
			ctx, cancel := g.storeCtx()
			rendered, err := RenderMessages(ctx, g.sys.cfg.Channels, []persistence.Message{*r}, nil)
			cancel()
			if err != nil {
				return reply{}, errStore
			}
			referenced = &rendered[0]
			if a.AllowRepliedUser && !containsUser(mentions, r.AuthorID) {
				mentions = append(mentions, referenced.Author)
			}
		}
	}
	for _, u := range mentions {
		row.Mentions = append(row.Mentions, int64(u.ID))
	}
	for _, r := range a.MentionRoles {
		row.MentionRoles = append(row.MentionRoles, int64(r))
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	id, err := g.sys.cfg.IDs.Next()
	if err != nil {
		return reply{}, discord.ErrUnavailable
	}
	row.ID = int64(id)

	msg := discord.Message{ID: id, ChannelID: snowflake.ID(g.id), Author: a.Author, Content: content,
		Timestamp: id.Time(), TTS: row.TTS, MentionEveryone: row.MentionEveryone, Mentions: mentions,
		MentionRoles: a.MentionRoles, Attachments: []any{}, Embeds: []any{}, Nonce: row.Nonce, Type: row.Type,
		ReferencedMessage: referenced}
	if msg.Mentions == nil {
		msg.Mentions = []discord.User{}
	}
	if msg.MentionRoles == nil {
		msg.MentionRoles = []snowflake.ID{}
	}
	if row.RefMessageID != 0 {
		msg.MessageReference = &discord.MessageReference{MessageID: sfPtr(row.RefMessageID), ChannelID: sfPtr(g.id), GuildID: sfPtr(g.guildID)}
	}
	g.seq++
	seq := g.seq
	p := &pendingSend{senders: []*actor.PID{c.ctx.Sender()}, msg: msg, viewers: a.Viewers, author: c.actor,
		prevAt: g.lastSend[c.actor], committed: make(chan error, 1)}
	if g.guildID != 0 {
		p.member = a.Member
	} else {
		t := g.dmType()
		p.channelType = &t
	}
	self, root := g.self, g.root
	if err := g.sys.cfg.Writer.Submit(row, g.epoch, func(err error) {
		p.committed <- err
		root.Send(self, &commitDone{seq: seq, err: err})
	}); err != nil {
		return reply{}, discord.ErrUnavailable
	}
	g.pending[seq] = p
	g.lastSend[c.actor] = c.now
	if hasNonce && body.EnforceNonce {
		p.nonce = nonce
		g.nonces.put(c.actor, nonce, &nonceEntry{pending: seq, at: c.now})
	}
	return reply{}, nil // answered by finishSend
}

// reference resolves a reply's message_reference: the message must be in
// this channel. A missing message fails the send unless fail_if_not_exists
// is false, in which case the send goes out as a plain message (nil).
func (c *ccall) reference(ref *discord.MessageReference) (*persistence.Message, *discord.Error) {
	if ref.ChannelID != nil && int64(*ref.ChannelID) != c.g.id {
		return nil, discord.Invalid("message_reference", "REPLIES_CANNOT_REFERENCE_OTHER_CHANNEL",
			"Cannot reply to a message in another channel.")
	}
	if !c.authz.Permissions.Has(permissions.ReadMessageHistory) {
		return nil, discord.ErrMissingPerms
	}
	ctx, cancel := c.g.storeCtx()
	defer cancel()
	m, err := c.g.sys.cfg.Channels.MessageByID(ctx, c.g.id, int64(*ref.MessageID))
	if errors.Is(err, persistence.ErrNotFound) {
		if ref.FailIfNotExists != nil && !*ref.FailIfNotExists {
			return nil, nil
		}
		return nil, discord.Invalid("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
	}
	if err != nil {
		return nil, errStore
	}
	return &m, nil
}

// finishSend runs in the mailbox when the writer is done with a row:
// answer, then fan out, in id order (the writer completes in order).
func (g *channelGrain) finishSend(done *commitDone) {
	p := g.pending[done.seq]
	if p == nil {
		return
	}
	delete(g.pending, done.seq)
	if done.err != nil {
		if p.nonce != "" {
			g.nonces.drop(p.author, p.nonce)
		}
		// The message was not sent: slow mode counts from the one before.
		if p.prevAt.IsZero() {
			delete(g.lastSend, p.author)
		} else {
			g.lastSend[p.author] = p.prevAt
		}
		if errors.Is(done.err, persistence.ErrFenced) {
			// Not committed: the senders retry on the new owner.
			g.fenced = true
			g.sys.fencings.Add(1)
			g.root.Poison(g.self)
			p.answer(g, channelError(errFencedOut))
			return
		}
		g.sys.log.Error("message commit failed", "channel", g.id, "error", done.err)
		p.answer(g, channelError(discord.ErrUnavailable))
		return
	}
	// The answer and the event are encoded together without reflection,
	// what they share once; the event's bytes are shared by every recipient.
	var b, data []byte
	if g.sys.cfg.Fanout != nil && len(p.viewers) > 0 {
		var guildID *snowflake.ID
		if g.guildID != 0 {
			guildID = sfPtr(g.guildID)
		}
		b, data = p.msg.AppendJSONAndEvent(make([]byte, 0, 512), make([]byte, 0, 768), guildID, p.member, p.channelType)
	} else {
		b = p.msg.AppendJSON(make([]byte, 0, 512))
	}
	if p.nonce != "" {
		g.nonces.put(p.author, p.nonce, &nonceEntry{answer: b, at: time.Now()})
	}
	p.answer(g, &channelpb.ChannelReply{Status: http.StatusOK, Body: b})
	if data != nil {
		g.sys.Publish(Event{Type: "MESSAGE_CREATE", GuildID: g.guildID, ChannelID: g.id, Data: data, Recipients: p.viewers})
	}
}

type updateMessageBody struct {
	Content *string `json:"content"`
	Flags   *int    `json:"flags"`
}

func updateMessage(c *ccall) (reply, *discord.Error) {
	id, e := c.messageID()
	if e != nil {
		return reply{}, e
	}
	var body updateMessageBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	g := c.g
	ctx, cancel := g.storeCtx()
	defer cancel()
	old, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, id)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if old.AuthorID != c.actor {
		return reply{}, discord.ErrNotAuthor
	}
	if body.Content == nil {
		return reply{}, discord.Invalid("content", "BASE_TYPE_REQUIRED", "This field is required")
	}
	if strings.TrimSpace(*body.Content) == "" {
		return reply{}, discord.ErrEmptyMessage
	}
	if utf8.RuneCountInString(*body.Content) > maxContent {
		return reply{}, discord.Invalid("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	mentions := make([]int64, 0, len(c.authz.Mentions))
	for _, u := range c.authz.Mentions {
		mentions = append(mentions, int64(u.ID))
	}
	if old.RefMessageID != 0 {
		// The replied-to author stays mentioned as the send decided.
		for _, u := range old.Mentions {
			if !containsID(mentions, u) && c.authz.AllowRepliedUser {
				if r, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, old.RefMessageID); err == nil && r.AuthorID == u {
					mentions = append(mentions, u)
				}
			}
		}
	}
	roles := make([]int64, 0, len(c.authz.MentionRoles))
	for _, r := range c.authz.MentionRoles {
		roles = append(roles, int64(r))
	}
	updated, err := g.sys.cfg.Channels.EditMessage(ctx, g.epoch, g.id, id, *body.Content, c.now, mentions, roles, c.authz.MentionEveryone)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	msgs, err := g.renderOne(updated)
	if err != nil {
		return reply{}, errStore
	}
	event := msgs
	if g.guildID != 0 {
		event.GuildID = sfPtr(g.guildID)
		event.Member = c.authz.Member
	}
	c.emit("MESSAGE_UPDATE", event, c.authz.Viewers)
	return reply{status: http.StatusOK, body: msgs}, nil
}

// renderOne renders a stored message with its referenced message.
func (g *channelGrain) renderOne(m persistence.Message) (discord.Message, error) {
	ctx, cancel := g.storeCtx()
	defer cancel()
	refs := map[int64]persistence.Message{}
	if m.RefMessageID != 0 {
		if r, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, m.RefMessageID); err == nil {
			refs[r.ID] = r
		}
	}
	out, err := RenderMessages(ctx, g.sys.cfg.Channels, []persistence.Message{m}, refs)
	if err != nil {
		return discord.Message{}, err
	}
	return out[0], nil
}

func containsID(ids []int64, id int64) bool {
	for _, v := range ids {
		if v == id {
			return true
		}
	}
	return false
}

func deleteMessage(c *ccall) (reply, *discord.Error) {
	id, e := c.messageID()
	if e != nil {
		return reply{}, e
	}
	g := c.g
	ctx, cancel := g.storeCtx()
	defer cancel()
	old, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, id)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if old.AuthorID != c.actor && (g.guildID == 0 || !c.authz.Permissions.Has(permissions.ManageMessages)) {
		return reply{}, discord.ErrMissingPerms
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	if _, err := g.sys.cfg.Channels.DeleteMessages(ctx, g.epoch, g.id, []int64{id}); err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	ev := map[string]any{"id": snowflake.ID(id), "channel_id": snowflake.ID(g.id)}
	if g.guildID != 0 {
		ev["guild_id"] = snowflake.ID(g.guildID)
	}
	c.emit("MESSAGE_DELETE", ev, c.authz.Viewers)
	return reply{status: http.StatusNoContent}, nil
}

func typing(c *ccall) (reply, *discord.Error) {
	if !c.authz.Permissions.Has(permissions.SendMessages) {
		return reply{}, discord.ErrMissingPerms
	}
	ev := map[string]any{"channel_id": snowflake.ID(c.g.id), "user_id": snowflake.ID(c.actor), "timestamp": c.now.Unix()}
	if c.g.guildID != 0 {
		ev["guild_id"] = snowflake.ID(c.g.guildID)
		ev["member"] = c.authz.Member
	}
	others := make([]int64, 0, len(c.authz.Viewers))
	for _, v := range c.authz.Viewers {
		if v != c.actor {
			others = append(others, v)
		}
	}
	c.emit("TYPING_START", ev, others)
	return reply{status: http.StatusNoContent}, nil
}

// nonceEntry remembers a send by (author, nonce): pending until its commit,
// then the answer to give a retry.
type nonceEntry struct {
	pending uint64
	answer  []byte
	at      time.Time
}

// nonceCache is a bounded, expiring map of recent nonces. Owned by the
// grain's mailbox.
type nonceCache struct {
	max   int
	ttl   time.Duration
	m     map[string]*nonceEntry
	order []string
}

func newNonceCache(max int, ttl time.Duration) *nonceCache {
	return &nonceCache{max: max, ttl: ttl, m: map[string]*nonceEntry{}}
}

func nonceKey(author int64, nonce string) string { return strconv.FormatInt(author, 10) + ":" + nonce }

func (n *nonceCache) get(author int64, nonce string, now time.Time) *nonceEntry {
	e := n.m[nonceKey(author, nonce)]
	if e == nil || (e.pending == 0 && now.Sub(e.at) > n.ttl) {
		return nil
	}
	return e
}

func (n *nonceCache) put(author int64, nonce string, e *nonceEntry) {
	k := nonceKey(author, nonce)
	if _, ok := n.m[k]; !ok {
		n.order = append(n.order, k)
	}
	n.m[k] = e
	for len(n.order) > n.max {
		old := n.order[0]
		n.order = n.order[1:]
		if ent := n.m[old]; ent != nil && ent.pending == 0 {
			delete(n.m, old)
		} else if ent != nil {
			n.order = append(n.order, old) // never forget a pending send
			break
		}
	}
}

func (n *nonceCache) drop(author int64, nonce string) { delete(n.m, nonceKey(author, nonce)) }

// checkDMPeer refuses a send in a 1:1 DM whose two users no longer share a
// guild (50007), as Discord does for users who are not friends.
func (g *channelGrain) checkDMPeer(actor int64) *discord.Error {
	for _, peer := range g.dm {
		if peer == actor {
			continue
		}
		ctx, cancel := g.storeCtx()
		ok, err := g.sys.cfg.Channels.SharesGuild(ctx, actor, peer)
		cancel()
		if err != nil {
			return errStore
		}
		if !ok {
			return discord.ErrCannotDM
		}
	}
	return nil
}
