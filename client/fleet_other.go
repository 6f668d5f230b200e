//go:build !linux

package client

import (
	"context"
	"errors"
)

// Fleet is Linux-only (it reads with epoll); elsewhere NewFleet fails.
type Fleet struct{}

var errFleetLinux = errors.New("client: Fleet needs Linux")

// NewFleet fails outside Linux.
func NewFleet(int) (*Fleet, error) { return nil, errFleetLinux }

// Dial fails outside Linux.
func (*Fleet) Dial(context.Context, string, string, func([]byte)) (int, string, error) {
	return 0, "", errFleetLinux
}

// Subscribe fails outside Linux.
func (*Fleet) Subscribe(int, string) error { return errFleetLinux }

// Send fails outside Linux.
func (*Fleet) Send(int, []byte) error { return errFleetLinux }

// Start does nothing outside Linux.
func (*Fleet) Start() {}

// Close does nothing outside Linux.
func (*Fleet) Close() {}

// Len is zero outside Linux.
func (*Fleet) Len() int { return 0 }
