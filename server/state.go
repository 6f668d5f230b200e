package server

import (
	"context"

	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/connection"
)

// localState answers the HTTP API from this node's own structures: on a
// single node they are the whole truth.
type localState struct {
	registry *channels.Registry
	hub      *connection.Hub
}

func (s localState) Channels(_ context.Context, app, prefix string) (map[string]int, error) {
	return s.registry.Channels(app, prefix), nil
}

func (s localState) SubscriptionCount(_ context.Context, app, channel string) (int, error) {
	return s.registry.Count(app, channel), nil
}

func (s localState) Connections(_ context.Context, app string) (int, error) {
	return s.hub.Connections(app), nil
}

func (s localState) Terminate(_ context.Context, app, userID string) error {
	s.hub.Terminate(app, userID)
	return nil
}
