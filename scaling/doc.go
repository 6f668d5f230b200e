// Package scaling carries messages between nodes. A Broker fans envelopes
// out to the nodes that have subscribers for a channel; Local is the
// single-node broker, redis.go the many-node one.
//
// Envelopes are opaque: this package knows apps and channel names as keys
// and nothing of the Pusher protocol. It imports only the standard library
// and, in redis files, go-redis.
package scaling
