//go:build !linux

package gateway

import (
	"errors"
	"syscall"
)

// canWritev: elsewhere flush always hands frames to the writer goroutine.
const canWritev = false

type iovec struct{}

func writevNow(syscall.RawConn, [][]byte, *[]iovec) (int, error) {
	return 0, errors.ErrUnsupported
}
