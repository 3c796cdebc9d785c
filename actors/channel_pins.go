package actors

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

// Pins. Pinning an already pinned message, or unpinning one that is not
// pinned, succeeds without a change or an event. Unlike Discord, Accord posts
// no "pinned a message" system message (type 6) yet.
func init() {
	registerChannelOps(map[string]channelOp{
		"pin.add":    addPin,
		"pin.remove": removePin,
	})
}

// MaxPins is how many messages a channel may have pinned (Discord's limit
// before its 2025 pins API).
const MaxPins = 50

// canPin: in a guild channel MANAGE_MESSAGES or the newer PIN_MESSAGES; in a
// DM channel every recipient may pin, as on Discord.
func (c *ccall) canPin() *discord.Error {
	if c.g.guildID == 0 {
		return nil
	}
	p := c.authz.Permissions
	if !p.Has(permissions.ManageMessages) && !p.Has(permissions.PinMessages) {
		return discord.ErrMissingPerms
	}
	return nil
}

// pinsUpdate is CHANNEL_PINS_UPDATE's payload; last_pin_timestamp is null
// once the channel has no pins.
type pinsUpdate struct {
	GuildID          *snowflake.ID `json:"guild_id,omitempty"`
	ChannelID        snowflake.ID  `json:"channel_id"`
	LastPinTimestamp *time.Time    `json:"last_pin_timestamp"`
}

func addPin(c *ccall) (reply, *discord.Error) {
	return c.setPinned(true)
}

func removePin(c *ccall) (reply, *discord.Error) {
	return c.setPinned(false)
}

func (c *ccall) setPinned(pin bool) (reply, *discord.Error) {
	if e := c.canPin(); e != nil {
		return reply{}, e
	}
	id, e := c.messageID()
	if e != nil {
		return reply{}, e
	}
	g := c.g
	ctx, cancel := g.storeCtx()
	defer cancel()
	msg, err := g.sys.cfg.Channels.MessageByID(ctx, g.id, id)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if (msg.PinnedAt != nil) == pin {
		return reply{status: http.StatusNoContent}, nil
	}
	var at *time.Time
	if pin {
		n, err := g.sys.cfg.Channels.CountPins(ctx, g.id)
		if err != nil {
			return reply{}, g.storeErr(c.ctx, err)
		}
		if n >= MaxPins {
			return reply{}, discord.ErrMaxPins
		}
		now := c.now.UTC().Truncate(time.Microsecond) // as PostgreSQL keeps it
		at = &now
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	if err := g.sys.cfg.Channels.SetPinned(ctx, g.epoch, g.id, id, at); err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	last := at
	if !pin {
		pins, err := g.sys.cfg.Channels.PinnedMessages(ctx, g.id)
		if err != nil {
			return reply{}, g.storeErr(c.ctx, err)
		}
		if len(pins) > 0 {
			last = utcPtr(pins[0].PinnedAt)
		}
	}
	// Discord reports the pinned flag's change as a message update too.
	msg.PinnedAt = at
	if rendered, err := g.renderOne(msg); err != nil {
		g.sys.log.Warn("rendering a pinned message failed; no MESSAGE_UPDATE", slog.Int64("channel", g.id), slog.Any("error", err))
	} else {
		if g.guildID != 0 {
			rendered.GuildID = sfPtr(g.guildID)
		}
		c.emit("MESSAGE_UPDATE", rendered, c.authz.Viewers)
	}
	ev := pinsUpdate{ChannelID: snowflake.ID(g.id), LastPinTimestamp: last}
	if g.guildID != 0 {
		ev.GuildID = sfPtr(g.guildID)
	}
	c.emit("CHANNEL_PINS_UPDATE", ev, c.authz.Viewers)
	return reply{status: http.StatusNoContent}, nil
}
