// Package httpapi is the Pusher HTTP API that backends trigger events and
// query channels through: a chi router, the request-signature middleware,
// and one file per resource.
//
// It imports apps, channels, presence, broadcast and protocol; what it needs
// of the running server (channel counts, terminating users) comes through
// the small interfaces in state.go, so one node and many look the same.
package httpapi
