package actors

// Event is one gateway dispatch a grain emits: its type (GUILD_ROLE_CREATE,
// CHANNEL_UPDATE, …), the JSON of its "d" field, encoded once, and the users
// entitled to receive it, already filtered by the grain (a channel event
// reaches only members who can view the channel).
type Event struct {
	// ID is unique per event cluster-wide, set by System.Publish.
	ID        uint64
	Type      string
	GuildID   int64
	ChannelID int64 // 0 for guild-wide events
	Data      []byte
	// Recipients are the user ids entitled to the event.
	Recipients []int64
}

// Fanout carries events from grains to the sessions that deliver them. It
// must not block on clients: grains call it from their mailbox after a
// change commits. It may deliver after it returns (the gateway's does),
// keeping the order of each caller's calls; the caller may reuse
// ev.Recipients once it returned, but must not modify ev.Data.
type Fanout interface {
	Publish(ev Event)
}

// FanoutFunc adapts a function to Fanout.
type FanoutFunc func(Event)

// Publish calls f.
func (f FanoutFunc) Publish(ev Event) { f(ev) }
