package gateway

import (
	"context"
	"encoding/json"
	"time"
)

// resumeData is Resume's "d".
type resumeData struct {
	Token     *string `json:"token"`
	SessionID string  `json:"session_id"`
	Seq       *int64  `json:"seq"`
}

var payloadResumed = []byte(`{"_trace":["accord-gateway"]}`)

// resume picks a session up on this connection: every dispatch after the
// client's seq, in order with its original sequence number, then RESUMED.
// A session that is unknown, expired, someone else's, or whose missed
// dispatches are no longer all kept gets op 9 (d false): the client
// identifies again, on this connection or another. A seq the session never
// reached closes with 4007.
func (c *conn) resume(d json.RawMessage) error {
	var rd resumeData
	if err := decodeData(d, &rd); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	claims, err := c.authenticate(ctx, rd.Token)
	if err != nil {
		return err
	}
	var seq int64
	if rd.Seq != nil {
		seq = *rd.Seq
	}
	ss := c.srv.sessions.get(rd.SessionID)
	if ss == nil && seq >= 0 && c.srv.remoteSession(rd.SessionID) {
		return c.resumeRemote(ctx, rd.SessionID, claims.UserID, seq)
	}
	if ss == nil || ss.userID != claims.UserID || seq < 0 {
		c.send(outFrame{body: payloadInvalidSession})
		return nil
	}
	ss.mu.Lock()
	if ss.removed || ss.loading {
		ss.mu.Unlock()
		c.send(outFrame{body: payloadInvalidSession})
		return nil
	}
	if seq > ss.seq {
		ss.mu.Unlock()
		return ErrInvalidSeq
	}
	missed, ok := ss.replay.after(seq)
	if !ok {
		ss.mu.Unlock()
		c.srv.removeSession(ss)
		c.send(outFrame{body: payloadInvalidSession})
		return nil
	}
	old := ss.conn
	ss.conn, ss.detachedAt = c, time.Time{}
	c.sendAll(missed)
	ss.dispatchLocked(dispatchHead("RESUMED", payloadResumed), 0)
	ss.mu.Unlock()
	c.sess = ss
	if old != nil && old != c {
		// One connection per session: the one the client left goes.
		old.close(ErrUnknown)
	}
	c.srv.presence.changed(ss.userID)
	return nil
}

// updatePresence is op 3.
func (c *conn) updatePresence(d json.RawMessage) error {
	var pd presenceData
	if err := decodeData(d, &pd); err != nil {
		return err
	}
	st, ok := pd.state(time.Now())
	if !ok {
		return ErrDecode
	}
	ss := c.sess
	ss.mu.Lock()
	ss.presence = st
	ss.mu.Unlock()
	c.srv.presence.changed(ss.userID)
	return nil
}
