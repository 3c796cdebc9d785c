package gateway

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/accordchat/accord/actors"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// eventTo is an event of type typ with data for recipients.
func eventTo(guildID int64, typ, data string, recipients ...int64) actors.Event {
	return actors.Event{Type: typ, GuildID: guildID, Data: []byte(data), Recipients: recipients}
}

func writeClientBinary(c *client, p []byte) error {
	return wsutil.WriteClientBinary(c.nc, p)
}

func writeClientClose(c *client, code int) error {
	return wsutil.WriteClientMessage(c.nc, ws.OpClose, binary.BigEndian.AppendUint16(nil, uint16(code)))
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
