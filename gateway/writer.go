package gateway

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// outFrame is one frame queued for a connection. A dispatch's body is the
// head shared by every recipient (dispatchHead) and seq its number in this
// session: the writer appends the digits and the closing brace. Anything
// else is a whole payload (seq 0), or a control frame (op set).
type outFrame struct {
	body []byte
	seq  int64
	op   ws.OpCode // 0: a data frame (text, or binary with zlib-stream)
}

// tailLen is the length of what the writer appends to f's body.
func (f *outFrame) tailLen() int {
	if f.seq <= 0 {
		return 0
	}
	n := 2 // one digit and '}'
	for v := f.seq; v >= 10; v /= 10 {
		n++
	}
	return n
}

// appendFrameHeader appends an unmasked, final frame header.
func appendFrameHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		return binary.BigEndian.AppendUint64(b, uint64(n))
	}
}

// closeFramePayload is a close frame's body: the code and its reason.
func closeFramePayload(code int, reason string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(code))
	return append(b, reason...)
}

// writeBufs are a batch's iovecs and the scratch bytes (frame headers and
// sequence numbers) they point into; pooled so an idle connection holds none.
type writeBufs struct {
	iov     net.Buffers
	scratch []byte
	out     []byte // the compressed batch, for zlib-stream connections
}

var writePool = sync.Pool{New: func() any { return new(writeBufs) }}

// maxPooledScratch keeps a burst's buffers from staying in the pool forever.
const maxPooledScratch = 1 << 20

// writeLoop drains the queue until it is empty, many frames per write
// (writev). It runs only while there is something to send: an idle
// connection has no writer goroutine. At most one runs per connection.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		batch := c.queue
		c.queue = c.spare[:0]
		c.spare = nil
		var closeFrame []byte
		if len(batch) == 0 && c.closeFrame != nil {
			closeFrame, c.closeFrame = c.closeFrame, nil
		}
		if len(batch) == 0 && closeFrame == nil {
			c.spare = batch
			c.writing = false
			c.idle.Broadcast()
			c.mu.Unlock()
			return
		}
		timeout := c.srv.cfg.WriteTimeout
		if c.closing {
			timeout = c.srv.cfg.CloseGrace
		}
		c.mu.Unlock()

		_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
		var err error
		if closeFrame != nil {
			_, err = c.nc.Write(closeFrame)
			if err == nil {
				// The peer answers the close frame and closes the TCP
				// connection; give it CloseGrace.
				c.mu.Lock()
				c.readLimit = time.Now().Add(c.srv.cfg.CloseGrace)
				_ = c.nc.SetReadDeadline(c.readLimit)
				c.mu.Unlock()
			}
		} else {
			err = c.writeFrames(batch)
			clear(batch)
			if cap(batch) > 1024 {
				batch = nil
			}
			c.mu.Lock()
			c.spare = batch[:0]
			c.mu.Unlock()
		}
		if err != nil {
			c.writeFailed(err)
			c.mu.Lock()
			c.writing = false
			c.idle.Broadcast()
			c.mu.Unlock()
			return
		}
	}
}

// writeFrames writes batch in one writev: per frame, its header, the shared
// body and the sequence number, the small pieces of consecutive frames
// sharing one iovec.
func (c *conn) writeFrames(batch []outFrame) error {
	wb := writePool.Get().(*writeBufs)
	defer func() {
		clear(wb.iov[:cap(wb.iov)])
		wb.iov = wb.iov[:0]
		if cap(wb.scratch) > maxPooledScratch || cap(wb.out) > maxPooledScratch {
			return
		}
		writePool.Put(wb)
	}()
	if c.zlib {
		return c.writeCompressed(wb, batch)
	}
	// Headers are at most 10 bytes, sequence numbers 20 digits and '}'.
	need := len(batch) * (10 + 21)
	if cap(wb.scratch) < need {
		wb.scratch = make([]byte, 0, need)
	}
	scratch := wb.scratch[:0]
	iov := wb.iov[:0]
	start := 0
	for i := range batch {
		f := &batch[i]
		op := f.op
		if op == 0 {
			op = ws.OpText
		}
		scratch = appendFrameHeader(scratch, op, len(f.body)+f.tailLen())
		iov = append(iov, scratch[start:])
		if len(f.body) > 0 {
			iov = append(iov, f.body)
		}
		start = len(scratch)
		if f.seq > 0 {
			scratch = strconv.AppendInt(scratch, f.seq, 10)
			scratch = append(scratch, '}')
		}
	}
	if len(scratch) > start {
		iov = append(iov, scratch[start:])
	}
	wb.iov, wb.scratch = iov, scratch
	bufs := iov // WriteTo consumes its receiver
	_, err := bufs.WriteTo(c.nc)
	return err
}

// writeCompressed writes batch as zlib-stream: every data payload goes
// through the connection's one deflate stream and ends with a sync flush
// (00 00 ff ff), each in its own binary frame, as Discord does. Control
// frames are not compressed.
func (c *conn) writeCompressed(wb *writeBufs, batch []outFrame) error {
	if c.zw == nil {
		c.zbuf = new(bytes.Buffer)
		zw, err := zlib.NewWriterLevel(c.zbuf, zlib.BestSpeed)
		if err != nil {
			return err
		}
		c.zw = zw
	}
	out := wb.out[:0]
	var tail [21]byte
	for i := range batch {
		f := &batch[i]
		if f.op != 0 {
			out = appendFrameHeader(out, f.op, len(f.body))
			out = append(out, f.body...)
			continue
		}
		c.zbuf.Reset()
		if _, err := c.zw.Write(f.body); err != nil {
			return err
		}
		if f.seq > 0 {
			t := append(strconv.AppendInt(tail[:0], f.seq, 10), '}')
			if _, err := c.zw.Write(t); err != nil {
				return err
			}
		}
		if err := c.zw.Flush(); err != nil {
			return err
		}
		out = appendFrameHeader(out, ws.OpBinary, c.zbuf.Len())
		out = append(out, c.zbuf.Bytes()...)
	}
	wb.out = out
	_, err := c.nc.Write(out)
	return err
}
