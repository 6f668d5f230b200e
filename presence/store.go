package presence

import (
	"context"
	"errors"
)

// ErrFull is returned by Join when a new user would exceed the channel's
// member limit.
var ErrFull = errors.New("presence: channel is full")

// Member is one user in a presence channel. Info is the user_info JSON as
// the auth endpoint signed it (empty when absent).
type Member struct {
	UserID string
	Info   string
}

// Store keeps presence membership per (app, channel), one entry per socket.
// Implementations are safe for concurrent use; each method may do I/O.
type Store interface {
	// Join records socketID as m in the channel. first reports that m's user
	// had no socket in the channel before, so member_added is due. A new
	// user is refused with ErrFull when the channel already has limit users
	// (limit <= 0 means no limit). Joining twice with one socket is a no-op
	// that reports first=false.
	Join(ctx context.Context, app, channel, socketID string, m Member, limit int) (first bool, err error)
	// Leave removes socketID from the channel. last reports that the user
	// has no socket left there, so member_removed is due; m is the member
	// that left (zero when the socket was not in the channel).
	Leave(ctx context.Context, app, channel, socketID string) (m Member, last bool, err error)
	// Members lists the distinct users of the channel.
	Members(ctx context.Context, app, channel string) ([]Member, error)
	// Count returns the number of distinct users of the channel.
	Count(ctx context.Context, app, channel string) (int, error)
}

// Departure is a user who left a presence channel with their last socket.
type Departure struct{ App, Channel, UserID string }

// Entry is one local socket's membership of a presence channel.
type Entry struct {
	App, Channel, SocketID string
	Member                 Member
}
