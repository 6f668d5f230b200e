package connection

import "github.com/quaver-dev/quaver/protocol"

// Transport carries one connection's frames. The connection calls Wake when
// its outbox gains frames while no writer is active; the transport then
// drains the outbox with Conn.Take until Take reports it is empty, and
// writes what it took, in order. When Take hands back a close, the
// transport sends it in its own form (a WebSocket close frame, an HTTP
// fallback "c" line) and ends.
type Transport interface {
	// Wake starts (or wakes) the writer. It must not block.
	Wake()
	// Name identifies the transport in metrics and logs ("ws", ...).
	Name() string
}

// finisher is a Transport whose end comes after the connection's: it calls
// Conn.TransportEnded once it has sent its close (or the peer is gone), and
// Hub.Shutdown waits for that.
type finisher interface {
	finishes()
}

// Closing is what Take hands back once a connection has been closed and its
// last frames taken: the code and reason to close the transport with.
type Closing struct {
	Code   int
	Reason string
}

func closingFrom(err *protocol.Error) *Closing {
	return &Closing{Code: err.Code, Reason: err.Message}
}
