// Package protocol is the Pusher Channels wire format: event names, error and
// close codes, decoding of client messages, encoding of server frames (JSON,
// and the MessagePack form of msgpack.go) and the HMAC signatures used by
// channel auth, user sign-in and the HTTP API.
//
// It imports only the standard library, tinylib/msgp's MessagePack
// primitives and goccy/go-json, so every other package may use it.
package protocol
