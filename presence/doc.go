// Package presence tracks who is in each presence channel and decides when
// member_added and member_removed are due: a user is added when their first
// socket joins and removed when their last socket leaves, however many
// sockets (and, with the Redis store, nodes) they use.
//
// It imports only the standard library and, in redis.go, go-redis.
package presence
