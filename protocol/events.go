package protocol

import "strings"

// Event names of the protocol itself. Application events are any other name.
const (
	EventConnectionEstablished = "pusher:connection_established"
	EventError                 = "pusher:error"
	EventPing                  = "pusher:ping"
	EventPong                  = "pusher:pong"
	EventSubscribe             = "pusher:subscribe"
	EventUnsubscribe           = "pusher:unsubscribe"
	EventSignin                = "pusher:signin"
	EventSigninSuccess         = "pusher:signin_success"
	EventSubscriptionError     = "pusher:subscription_error"
	EventCacheMiss             = "pusher:cache_miss"

	EventSubscriptionSucceeded = "pusher_internal:subscription_succeeded"
	EventMemberAdded           = "pusher_internal:member_added"
	EventMemberRemoved         = "pusher_internal:member_removed"
)

// ClientEventPrefix starts every event a client may send to other clients.
const ClientEventPrefix = "client-"

// IsClientEvent reports whether name is a client event (client-*).
func IsClientEvent(name string) bool { return strings.HasPrefix(name, ClientEventPrefix) }

// IsReserved reports whether name belongs to the protocol (pusher: or
// pusher_internal:), which the HTTP API must not let applications send.
func IsReserved(name string) bool {
	return strings.HasPrefix(name, "pusher:") || strings.HasPrefix(name, "pusher_internal:")
}
