package broadcast

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
)

// MaxEventNameLength bounds event names, as in the Pusher SDKs.
const MaxEventNameLength = 200

var socketIDPattern = regexp.MustCompile(`^\d+\.\d+$`)

// Trigger is an application event for one or more channels, as the HTTP
// API and the Redis Stream ingest receive it.
type Trigger struct {
	Name     string
	Data     string
	Channels []string
	// Except is the socket id that must not receive it.
	Except string
	// Ingested is when the server received it (Unix nanoseconds).
	Ingested int64
	// Source is where it came from, for the latency metrics.
	Source protocol.Source
}

// InvalidError says why a trigger breaks the rules; TooLarge marks data
// over the app's limit (413 on the HTTP API).
type InvalidError struct {
	Message  string
	TooLarge bool
}

func (e *InvalidError) Error() string { return e.Message }

func invalid(msg string) *InvalidError { return &InvalidError{Message: msg} }

// Validate applies Pusher's rules and the app's limits.
func (t Trigger) Validate(app *apps.App, maxChannels int) *InvalidError {
	switch {
	case t.Name == "":
		return invalid("name is required")
	case len(t.Name) > MaxEventNameLength:
		return invalid("name is longer than 200 characters")
	case protocol.IsReserved(t.Name):
		return invalid("name may not start with pusher: or pusher_internal:")
	case len(t.Channels) == 0:
		return invalid("channels is required")
	case len(t.Channels) > maxChannels:
		return invalid("channels holds more than " + strconv.Itoa(maxChannels) + " channels")
	case t.Except != "" && !socketIDPattern.MatchString(t.Except):
		return invalid("socket_id must look like 123.456")
	case len(t.Data) > app.MaxEventSize:
		return &InvalidError{Message: "data is larger than the app's limit of " + strconv.Itoa(app.MaxEventSize) + " bytes", TooLarge: true}
	}
	for _, ch := range t.Channels {
		if err := channels.Validate(ch); err != nil {
			return invalid("channel " + strconv.Quote(ch) + ": " + err.Error())
		}
	}
	return nil
}

// Trigger publishes validated triggers, in order, to each of their
// channels, with the app's cache lifetime and each channel's AI streaming
// rule.
func (p *Publisher) Trigger(ctx context.Context, app *apps.App, ts ...Trigger) {
	now := time.Now().UnixNano()
	evs := make([]Event, 0, len(ts))
	for _, t := range ts {
		if t.Ingested == 0 {
			t.Ingested = now
		}
		for _, ch := range t.Channels {
			f := protocol.NewFrame(t.Name, ch, t.Data, protocol.DataString, "")
			f.Ingested, f.Source = t.Ingested, t.Source
			evs = append(evs, Event{App: app.ID, Frame: f, Except: t.Except, CacheTTL: app.CacheTTL, Rule: app.Rule(ch)})
		}
	}
	p.Publish(ctx, evs...)
}
