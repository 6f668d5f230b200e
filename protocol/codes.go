package protocol

import (
	"strconv"
)

// Pusher error and close codes. pusher-js maps a close code to an action:
// 4000-4099 stop reconnecting, 4100-4199 reconnect after a back-off,
// 4200-4299 reconnect at once, 4300 and above stop.
const (
	CodeTLSOnly             = 4000
	CodeAppNotFound         = 4001
	CodeAppDisabled         = 4003
	CodeOverQuota           = 4004
	CodePathNotFound        = 4005
	CodeInvalidVersion      = 4006
	CodeUnsupportedProtocol = 4007
	CodeNoProtocol          = 4008
	CodeUnauthorized        = 4009
	CodeOverCapacity        = 4100
	CodeReconnect           = 4200
	CodePongTimeout         = 4201
	CodeInactive            = 4202
	CodeClientEventRejected = 4301
)

// Error is a client-visible failure carrying a Pusher code. It is sent as a
// pusher:error frame and, when it ends the connection, as the close code.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string {
	return strconv.Itoa(e.Code) + ": " + e.Message
}

// Errorf-free constructors keep the messages in one place, so the texts a
// client sees are consistent across transports.
var (
	ErrAppNotFound         = &Error{CodeAppNotFound, "Application does not exist"}
	ErrAppDisabled         = &Error{CodeAppDisabled, "Application disabled"}
	ErrOverQuota           = &Error{CodeOverQuota, "Application is over connection quota"}
	ErrPathNotFound        = &Error{CodePathNotFound, "Path not found"}
	ErrInvalidVersion      = &Error{CodeInvalidVersion, "Invalid version string format"}
	ErrUnsupportedProtocol = &Error{CodeUnsupportedProtocol, "Unsupported protocol version"}
	ErrNoProtocol          = &Error{CodeNoProtocol, "No protocol version supplied"}
	ErrOriginNotAllowed    = &Error{CodeUnauthorized, "Origin not allowed"}
	ErrPongTimeout         = &Error{CodePongTimeout, "Pong reply not received in time"}
	ErrShuttingDown        = &Error{CodeReconnect, "Server is shutting down, reconnect"}
	ErrSlowConsumer        = &Error{CodeOverCapacity, "Connection is too slow to keep up, reconnect"}
	ErrTerminated          = &Error{CodeUnauthorized, "You got disconnected by the app."}
	ErrInvalidMessage      = &Error{CodeReconnect, "Invalid message format"}
	ErrRateLimited         = &Error{CodeClientEventRejected, "Client event rejected: rate limit exceeded"}
)
