// Package streams connects Quaver to AI workers through Redis Streams:
// Ingest publishes the entries producers XADD to ingest streams (one reader
// per stream across the cluster, holding a lease, resuming from a
// checkpoint), Inbound appends client events (a user's prompt) to a stream
// workers read with consumer groups, and Signals appends "vacated" when a
// stream channel has lost its last subscriber, so a worker can stop
// generating.
//
// It imports apps, broadcast, protocol, and go-redis.
package streams
