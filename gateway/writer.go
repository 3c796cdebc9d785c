package gateway

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
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
	out     []byte  // the compressed batch, for zlib-stream connections
	vecs    []iovec // iov for the writev system call (flush)
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
		if rest := c.partial; rest != nil {
			// A flush left the end of its frames: they go first.
			c.partial = nil
			timeout := c.srv.cfg.WriteTimeout
			if c.closing {
				timeout = c.srv.cfg.CloseGrace
			}
			c.mu.Unlock()
			_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
			if _, err := c.nc.Write(rest); err != nil {
				c.writerFailed(err)
				return
			}
			continue
		}
		batch := c.queue
		c.queue = c.spare[:0]
		c.spare = nil
		var closeFrame []byte
		if len(batch) == 0 && c.closeFrame != nil {
			closeFrame, c.closeFrame = c.closeFrame, nil
		}
		if len(batch) == 0 && closeFrame == nil {
			c.spare = batch
			if !c.closing && c.raw != nil {
				// Flushes write without blocking and fail on a
				// deadline that passed.
				_ = c.nc.SetWriteDeadline(time.Time{})
			}
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
			c.writerFailed(err)
			return
		}
	}
}

// writerFailed ends the running writer after a failed write.
func (c *conn) writerFailed(err error) {
	c.writeFailed(err)
	c.mu.Lock()
	c.writing = false
	c.idle.Broadcast()
	c.mu.Unlock()
}

// flush writes the frames fan-out workers queued, from the worker that
// queued them, at the end of its batch: all of them in one writev, without
// blocking. What the socket does not take at once goes to the writer
// goroutine, which is then started; so is it when frames arrived
// meanwhile, or where writes cannot be tried without blocking.
func (c *conn) flush() {
	c.mu.Lock()
	c.batched = false
	if c.writing || c.dead || len(c.queue) == 0 {
		// A running writer takes the frames with its next batch.
		c.mu.Unlock()
		return
	}
	c.writing = true
	if c.raw == nil {
		c.srv.spawn(c.writeLoop)
		c.mu.Unlock()
		return
	}
	batch := c.queue
	c.queue, c.spare = c.spare[:0], nil
	c.mu.Unlock()

	rest, err := c.writeNow(batch)
	clear(batch)
	if cap(batch) > 1024 {
		batch = nil
	}
	if err != nil {
		c.mu.Lock()
		c.spare = batch[:0]
		c.mu.Unlock()
		c.writerFailed(err)
		return
	}
	c.mu.Lock()
	c.spare = batch[:0]
	c.partial = rest
	if rest != nil {
		c.srv.partialWrites.Add(1)
	}
	if rest != nil || len(c.queue) > 0 || c.closeFrame != nil {
		c.srv.spawn(c.writeLoop) // it inherits writing
	} else {
		c.writing = false
		c.idle.Broadcast()
	}
	c.mu.Unlock()
}

// writeNow writes batch without blocking and returns a copy of what the
// socket did not take (nil: everything went).
func (c *conn) writeNow(batch []outFrame) (rest []byte, err error) {
	wb := writePool.Get().(*writeBufs)
	defer wb.release()
	iov, err := c.encode(wb, batch)
	if err != nil {
		return nil, err
	}
	n, err := writevNow(c.raw, iov, &wb.vecs)
	if err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, err
	}
	// EAGAIN: the socket buffer is full; a deadline that passed (the last
	// writer's): the writer goroutine tries with a new one.
	for _, b := range iov {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		rest = append(rest, b[n:]...)
		n = 0
	}
	return rest, nil
}

// writeFrames writes batch in one writev, blocking.
func (c *conn) writeFrames(batch []outFrame) error {
	wb := writePool.Get().(*writeBufs)
	defer wb.release()
	iov, err := c.encode(wb, batch)
	if err != nil {
		return err
	}
	_, err = iov.WriteTo(c.nc) // WriteTo consumes iov, not wb.iov
	return err
}

// release returns wb to the pool, unless a burst made it large.
func (wb *writeBufs) release() {
	clear(wb.iov[:cap(wb.iov)])
	wb.iov = wb.iov[:0]
	if cap(wb.scratch) > maxPooledScratch || cap(wb.out) > maxPooledScratch || cap(wb.vecs) > 4096 {
		return
	}
	writePool.Put(wb)
}

// encode lays batch out as iovecs in wb: per frame, its header, the shared
// body and the sequence number, the small pieces of consecutive frames
// sharing one iovec (or, with zlib-stream, the one compressed buffer).
func (c *conn) encode(wb *writeBufs, batch []outFrame) (net.Buffers, error) {
	if c.zlib {
		return c.compress(wb, batch)
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
	return iov, nil
}

// compress lays batch out as zlib-stream: every data payload goes through
// the connection's one deflate stream and ends with a sync flush (00 00 ff
// ff), each in its own binary frame, as Discord does. Control frames are
// not compressed. The stream belongs to the running writer.
func (c *conn) compress(wb *writeBufs, batch []outFrame) (net.Buffers, error) {
	if c.zw == nil {
		c.zbuf = new(bytes.Buffer)
		zw, err := zlib.NewWriterLevel(c.zbuf, zlib.BestSpeed)
		if err != nil {
			return nil, err
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
			return nil, err
		}
		if f.seq > 0 {
			t := append(strconv.AppendInt(tail[:0], f.seq, 10), '}')
			if _, err := c.zw.Write(t); err != nil {
				return nil, err
			}
		}
		if err := c.zw.Flush(); err != nil {
			return nil, err
		}
		out = appendFrameHeader(out, ws.OpBinary, c.zbuf.Len())
		out = append(out, c.zbuf.Bytes()...)
	}
	wb.out = out
	wb.iov = append(wb.iov[:0], out)
	return wb.iov, nil
}
