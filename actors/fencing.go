package actors

import (
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/proto/channelpb"
	"github.com/accordchat/accord/proto/guildpb"
)

// statusFenced is the status of a guild or channel grain's answer when the
// activation was fenced out by a newer owner (persistence.ErrFenced): it did
// nothing and is stopping. System.request never returns such an answer: it forgets the
// activation and sends the call again, to the current owner, within the
// call's deadline, so it never reaches a client.
const statusFenced = 2

// errFencedOut is a fenced-out grain's answer.
var errFencedOut = &discord.Error{Status: statusFenced, Message: "The grain was fenced out by a newer owner."}

// fencedOut reports whether res is a fenced-out grain's answer.
func fencedOut(res any) bool {
	switch r := res.(type) {
	case *guildpb.GuildReply:
		return r.GetStatus() == statusFenced
	case *channelpb.ChannelReply:
		return r.GetStatus() == statusFenced
	}
	return false
}
