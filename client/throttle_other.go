//go:build !linux

package client

import "context"

// DialWith fails outside Linux.
func (*Fleet) DialWith(context.Context, string, string, FleetDialOptions) (int, string, error) {
	return 0, "", errFleetLinux
}

// Throttle does nothing outside Linux.
func (*Fleet) Throttle(int, float64) {}

// Unthrottle does nothing outside Linux.
func (*Fleet) Unthrottle(int) {}
