package apps

import (
	"strings"
	"time"
)

// ChannelRule gives the channels whose names start with Prefix the AI
// streaming behaviour. Channels without a rule are plain Pusher channels.
type ChannelRule struct {
	Prefix string
	// Tokens turns on the token convention: events whose data is
	// {"stream": id, "seq": n, "delta": text} (the last with "done": true)
	// are accumulated per stream, so that a subscriber who arrives late or
	// comes back gets the text so far before the live tail, and slow
	// subscribers get merged tokens instead of falling behind.
	Tokens bool
	// History keeps the channel's last History events of any kind, for the
	// history API and, with Replay, for new subscribers.
	History int
	// Replay sends the kept history to each new subscriber.
	Replay bool
	// Retain is how long a finished stream (or a silent one) and the
	// history stay available.
	Retain time.Duration
	// Inbound appends the channel's client events to the app's inbound
	// Redis Stream, where workers read them with consumer groups.
	Inbound bool
	// InboundRate bounds inbound client events per second, per connection
	// and per user across the cluster.
	InboundRate int
	// VacatedGrace is how long a channel must stay without subscribers,
	// cluster-wide, before a "vacated" signal is appended to the app's
	// signal stream; 0 sends none.
	VacatedGrace time.Duration
	// PaceTokens and PaceChars pace the channel's token events: released
	// to this node's subscribers at no more than PaceTokens tokens and
	// PaceChars characters (runes of the delta) per second, so a burst
	// from the model reaches clients at a steady cadence. The first token
	// after a pause goes out at once; other events keep their place
	// behind the tokens queued before them. 0 leaves that bound off; both
	// 0 (the default) is no pacing. Pacing needs Tokens.
	PaceTokens int
	PaceChars  int
}

// Paced reports whether r paces its channels' tokens; r may be nil.
func (r *ChannelRule) Paced() bool {
	return r != nil && r.Tokens && (r.PaceTokens > 0 || r.PaceChars > 0)
}

// Rule returns the rule with the longest prefix matching channel, or nil.
func (a *App) Rule(channel string) *ChannelRule {
	var best *ChannelRule
	for i := range a.Channels {
		r := &a.Channels[i]
		if strings.HasPrefix(channel, r.Prefix) && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best = r
		}
	}
	return best
}

func (r *ChannelRule) defaults() {
	if r.Retain == 0 {
		r.Retain = 5 * time.Minute
	}
	if r.Inbound && r.InboundRate == 0 {
		r.InboundRate = 2
	}
}
