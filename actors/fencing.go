package actors

import (
	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/proto/guildpb"
)

// statusFenced is the status of a guild grain's answer when the activation
// was fenced out by a newer owner (persistence.ErrFenced): it did nothing and
// is stopping. System.request never returns such an answer: it forgets the
// activation and sends the call again, to the current owner, within the
// call's deadline, so it never reaches a client.
const statusFenced = 2

// errFencedOut is a fenced-out guild grain's answer.
var errFencedOut = &discord.Error{Status: statusFenced, Message: "The guild grain was fenced out by a newer owner."}

// fencedOut reports whether res is a fenced-out grain's answer.
func fencedOut(res any) bool {
	r, ok := res.(*guildpb.GuildReply)
	return ok && r.GetStatus() == statusFenced
}
