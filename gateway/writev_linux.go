//go:build linux

package gateway

import (
	"syscall"
	"unsafe"
)

// canWritev: flush may write without blocking through the socket's
// RawConn.
const canWritev = true

// iovec is the system call's view of one buffer.
type iovec = syscall.Iovec

// maxIovecs is IOV_MAX on Linux.
const maxIovecs = 1024

// writevNow writes bufs to the socket once, without waiting for it to
// become writable: it returns how many bytes went, and EAGAIN when the
// socket buffer filled first. vecs is scratch space for the iovecs.
// RawConn.Write holds the descriptor's write lock, so it cannot interleave
// with a writer goroutine's writes, and keeps it open meanwhile.
func writevNow(rc syscall.RawConn, bufs [][]byte, vecs *[]iovec) (int, error) {
	total := 0
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for len(bufs) > 0 {
			v := (*vecs)[:0]
			want, used := 0, 0
			for _, b := range bufs {
				if len(b) > 0 {
					if len(v) == maxIovecs {
						break
					}
					vec := iovec{Base: &b[0]}
					vec.SetLen(len(b))
					v = append(v, vec)
					want += len(b)
				}
				used++
			}
			*vecs = v
			if len(v) == 0 {
				return true
			}
			n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&v[0])), uintptr(len(v)))
			clear(v)
			if errno == syscall.EINTR {
				continue
			}
			if errno != 0 {
				werr = errno
				return true
			}
			total += int(n)
			if int(n) < want {
				return true // the socket buffer is full
			}
			bufs = bufs[used:]
		}
		return true
	})
	if err != nil {
		return total, err
	}
	return total, werr
}
