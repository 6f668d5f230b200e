// Package channels knows Pusher channel names (kinds, naming rules) and keeps
// the Registry of which local subscribers are in which channel, which is
// what a broadcast walks.
//
// It imports protocol and the standard library only; subscribers are any
// type with a socket id and a non-blocking Send.
package channels
