// Package history keeps what a subscriber who arrives late, or comes back,
// is told first on channels with an AI streaming rule: the text of each
// token stream so far (with marks, so that a client can resume after any
// seq) and the channel's last events. Memory serves one node; Redis serves
// many, so whichever node a client lands on knows the same text.
//
// Records must complete before their event is broadcast: a subscriber reads
// the history after it starts receiving live events, and drops live tokens
// the history already holds, so together they miss nothing.
//
// It imports apps and protocol, and go-redis in redis.go.
package history
