// Package connection is one client connection's life, independent of how it
// is carried: the Pusher handshake, dispatch of client messages
// (subscribe, unsubscribe, sign-in, client events, pings), the bounded
// outbox every frame goes through, heartbeats, and one idempotent close
// that cleans up everything the connection touched.
//
// A Transport carries frames; websocket.go adapts gws (TLS) and
// netpoll_linux.go serves plain-TCP WebSockets from poll loops, both
// writing frames in the encoding each connection negotiated (encoding.go:
// JSON or MessagePack, with permessage-deflate from deflate.go); and
// httpfallback.go serves pusher-js's HTTP fallback (xhr_streaming,
// xhr_polling), each session one more Transport. The Hub owns the
// connections of this node.
//
// It imports apps, channels, presence, broadcast, protocol, gws (in
// websocket.go only) and klauspost/compress/flate (in deflate.go only).
package connection
