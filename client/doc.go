// Package client is a Go client for Pusher-protocol servers: it connects,
// subscribes (computing channel signatures when given the app secret),
// sends client events and hands received events to a callback or a queue.
// Quaver's tests and its load tool use it; it works against any Pusher
// Channels server.
package client
