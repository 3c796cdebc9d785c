package actors

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/snowflake"
)

func init() {
	registerChannelOps(map[string]channelOp{
		"messages.bulk_delete": bulkDelete,
	})
}

// Bulk delete limits, as on Discord.
const (
	MinBulkDelete = 2
	MaxBulkDelete = 100
	// BulkDeleteMaxAge: no message older than this (by its id's timestamp)
	// may be bulk deleted.
	BulkDeleteMaxAge = 14 * 24 * time.Hour
)

type bulkDeleteBody struct {
	Messages []json.RawMessage `json:"messages"`
}

// bulkDelete deletes 2–100 messages of a guild channel in one fenced
// transaction, all or nothing. As on Discord, ids that are not messages of
// this channel count towards the limits and are otherwise ignored; a
// duplicate id or one older than 14 days fails the whole call. DM channels
// have no bulk delete (403 50003, Discord's "Cannot execute action on a DM
// channel").
func bulkDelete(c *ccall) (reply, *discord.Error) {
	g := c.g
	if g.guildID == 0 {
		return reply{}, ErrDMAction
	}
	if !c.authz.Permissions.Has(permissions.ManageMessages) {
		return reply{}, discord.ErrMissingPerms
	}
	var body bulkDeleteBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	switch n := len(body.Messages); {
	case body.Messages == nil:
		return reply{}, discord.Invalid("messages", "BASE_TYPE_REQUIRED", "This field is required")
	case n < MinBulkDelete:
		return reply{}, discord.Invalid("messages", "BASE_TYPE_MIN_LENGTH", "Must be 2 or more in length.")
	case n > MaxBulkDelete:
		return reply{}, discord.Invalid("messages", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	oldest := snowflake.FromTime(c.now.Add(-BulkDeleteMaxAge))
	ids := make([]int64, 0, len(body.Messages))
	seen := make(map[snowflake.ID]bool, len(body.Messages))
	tooOld := false
	for i, raw := range body.Messages {
		var id snowflake.ID
		if err := json.Unmarshal(raw, &id); err != nil || id == 0 {
			return reply{}, discord.Invalid("messages."+strconv.Itoa(i), "NUMBER_TYPE_COERCE",
				"Value "+string(raw)+" is not snowflake.")
		}
		if seen[id] {
			return reply{}, discord.Invalid("messages", "BASE_TYPE_DUPLICATES", "Messages must be unique.")
		}
		seen[id] = true
		tooOld = tooOld || id < oldest
		ids = append(ids, int64(id))
	}
	if tooOld {
		return reply{}, discord.ErrTooOldToBulkDelete
	}
	if e := g.ensureEpoch(); e != nil {
		return reply{}, e
	}
	ctx, cancel := g.storeCtx()
	defer cancel()
	deleted, err := g.sys.cfg.Channels.DeleteMessages(ctx, g.epoch, g.id, ids)
	if err != nil {
		return reply{}, g.storeErr(c.ctx, err)
	}
	if len(deleted) > 0 {
		out := make([]snowflake.ID, len(deleted))
		for i, id := range deleted {
			out[i] = snowflake.ID(id)
		}
		c.emit("MESSAGE_DELETE_BULK", map[string]any{"ids": out, "channel_id": snowflake.ID(g.id),
			"guild_id": snowflake.ID(g.guildID)}, c.authz.Viewers)
	}
	return reply{status: http.StatusNoContent}, nil
}
