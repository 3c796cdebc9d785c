//go:build !linux

package gateway

import (
	"errors"
	"log/slog"
)

// poller is Linux-only (epoll); elsewhere every connection keeps its reader
// goroutine.
type poller struct{}

type pollState struct{ id uint32 }

func newPoller() (*poller, error) { return nil, errors.New("gateway: no poller on this platform") }

func (p *poller) arm(*conn) error { return errors.New("gateway: no poller on this platform") }

func (p *poller) forget(*conn) {}

func (p *poller) run(<-chan struct{}, *slog.Logger) {}
