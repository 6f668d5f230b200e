// Package bench is Quaver's load tool (quaver bench): it drives any
// Pusher-protocol server with real connections and signed HTTP API calls and
// measures what users feel (connections per second, memory per connection,
// deliveries per second, end-to-end latency, loss, order), and says when
// the tool itself, not the server, was the limit.
//
// It imports client and protocol, and the standard library.
package bench
