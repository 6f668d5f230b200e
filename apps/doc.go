// Package apps holds the applications a server serves (id, key, secret,
// limits, allowed origins) and the Store interface used to look them up.
//
// It imports only the standard library.
package apps
