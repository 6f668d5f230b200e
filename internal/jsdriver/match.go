package jsdriver

import (
	"encoding/json"
	"strings"
)

// Matchers for Wait, Never and Count. Each returns a predicate on reports.

// State matches a connection state change of client to state.
func State(client, state string) func(Report) bool {
	return func(r Report) bool { return r.Type == "state" && r.Client == client && r.Current == state }
}

// Message matches a raw message (any frame pusher-js decoded) of client
// with the event name, on channel when channel is not empty.
func Message(client, event, channel string) func(Report) bool {
	return func(r Report) bool {
		return r.Type == "message" && r.Client == client && r.Event == event && (channel == "" || r.Channel == channel)
	}
}

// Event matches an event emitted on a client's channel object (pusher-js
// bind_global, Echo's underlying subscription).
func Event(client, channel, event string) func(Report) bool {
	return func(r Report) bool {
		return r.Type == "event" && r.Client == client && r.Channel == channel && r.Event == event
	}
}

// Type matches reports of a type for a client.
func Type(typ, client string) func(Report) bool {
	return func(r Report) bool { return r.Type == typ && r.Client == client }
}

// Typed matches reports of a type for a client on a channel.
func Typed(typ, client, channel string) func(Report) bool {
	return func(r Report) bool { return r.Type == typ && r.Client == client && r.Channel == channel }
}

// ErrorCode matches an error report of client carrying a Pusher code.
func ErrorCode(client string, code int) func(Report) bool {
	return func(r Report) bool { return r.Type == "error" && r.Client == client && r.ErrorCode() == code }
}

// And matches when every predicate does.
func And(preds ...func(Report) bool) func(Report) bool {
	return func(r Report) bool {
		for _, p := range preds {
			if !p(r) {
				return false
			}
		}
		return true
	}
}

// DataContains matches reports whose data, as JSON, contains s.
func DataContains(s string) func(Report) bool {
	return func(r Report) bool { return strings.Contains(string(r.Data), s) }
}

// Subscribed matches pusher:subscription_succeeded on a client's channel.
func Subscribed(client, channel string) func(Report) bool {
	return Event(client, channel, "pusher:subscription_succeeded")
}

// DataString decodes Data as a JSON string, or returns it as JSON text.
func (r Report) DataString() string {
	var s string
	if json.Unmarshal(r.Data, &s) == nil {
		return s
	}
	return string(r.Data)
}

// DecodeData unmarshals Data into v.
func (r Report) DecodeData(v any) error { return json.Unmarshal(r.Data, v) }

// Text returns a top-level string field of the report, or "".
func (r Report) Text(name string) string {
	var s string
	_ = r.Field(name, &s)
	return s
}
