package actors

import (
	"net/http"

	"github.com/accordchat/accord/discord"
)

// Channel reads. Channel writes and overwrites live in guild_channels_write.go.
func init() {
	registerGuildOps(map[string]guildOp{
		"channels.list": {run: listChannels},
		"channel.get":   {run: getChannel},
	})
}

// listChannels answers the channels the actor can view, by position then id.
func listChannels(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	out := []discord.Channel{}
	for _, ch := range c.st.sortedChannels() {
		if _, e := c.st.viewChannel(c.actor, ch.ID, c.now); e == nil {
			out = append(out, wireChannel(ch))
		}
	}
	return reply{status: http.StatusOK, body: out}, nil
}

func getChannel(c *gcall) (reply, *discord.Error) {
	id, _ := c.id("channel_id")
	ch, e := c.st.viewChannel(c.actor, id, c.now)
	if e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusOK, body: wireChannel(ch)}, nil
}
