package httpapi

import "context"

// State answers the API's questions about channels and connections. On one
// node it reads local structures; with many, it answers for the cluster.
type State interface {
	// Channels returns the occupied channels of an app whose names start
	// with prefix, each with its subscription count.
	Channels(ctx context.Context, app, prefix string) (map[string]int, error)
	// SubscriptionCount returns a channel's number of subscribed sockets.
	SubscriptionCount(ctx context.Context, app, channel string) (int, error)
	// Connections returns the app's number of open connections.
	Connections(ctx context.Context, app string) (int, error)
	// Terminate closes every connection of the user, on every node.
	Terminate(ctx context.Context, app, userID string) error
}

// Health reports the server's dependencies for /up. Nil means healthy.
type Health interface {
	Health(ctx context.Context) map[string]string
}

// Transports counts this node's open connections by transport ("ws",
// "xhr_streaming", "xhr_polling") for /up.
type Transports interface {
	ConnectionsByTransport() map[string]int
}
