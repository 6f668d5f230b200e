package connection

import (
	"github.com/quaver-dev/quaver/protocol"
)

// Receive handles one message from the client. Transports call it for each
// inbound text message; data is not retained after Receive returns.
func (c *Conn) Receive(data []byte) { c.handle(data, protocol.Decode) }

// ReceiveMsgpack handles one binary message from a client that negotiated
// the MessagePack encoding; it is decoded to the same protocol.Message as
// the JSON form and handled alike.
func (c *Conn) ReceiveMsgpack(data []byte) { c.handle(data, protocol.DecodeMsgpack) }

func (c *Conn) handle(data []byte, decode func([]byte) (protocol.Message, error)) {
	c.Touch()
	c.delivery.MessageIn()
	c.receive.Lock()
	defer c.receive.Unlock()
	if c.isClosed() {
		return
	}
	if len(data) > c.app.MaxMessageSize {
		c.sendError(protocol.CodeClientEventRejected, "Message is larger than the app's max_message_size", "")
		return
	}
	msg, err := decode(data)
	if err != nil {
		c.sendError(protocol.CodeReconnect, protocol.ErrInvalidMessage.Message, "")
		return
	}
	switch msg.Event {
	case protocol.EventPing:
		c.Send(pongFrame)
	case protocol.EventPong:
		// Touch above is all a pong needs.
	case protocol.EventSubscribe:
		c.subscribe(msg)
	case protocol.EventUnsubscribe:
		c.unsubscribe(msg)
	case protocol.EventSignin:
		c.signin(msg)
	default:
		switch {
		case protocol.IsClientEvent(msg.Event):
			c.clientEvent(msg)
		case protocol.IsReserved(msg.Event):
			c.sendError(protocol.CodeReconnect, "Unsupported event "+msg.Event, "")
		default:
			if c.hub.debug {
				c.logger().Debug("ignoring event that is neither a protocol nor a client event", "event", msg.Event)
			}
		}
	}
}

// receiveWebSocket handles one WebSocket message by its kind: text is JSON;
// binary is MessagePack for a client that negotiated it, and refused from
// a JSON client.
func (c *Conn) receiveWebSocket(binary, msgpack bool, data []byte) {
	switch {
	case !binary:
		c.Receive(data)
	case msgpack:
		c.ReceiveMsgpack(data)
	default:
		c.ReceiveBinary()
	}
}

// ReceiveBinary handles a binary message from a JSON client, which the JSON
// protocol does not use: the client gets an error and keeps its connection.
func (c *Conn) ReceiveBinary() {
	c.Touch()
	c.sendError(protocol.CodeReconnect, "Binary messages are not supported", "")
}

func (c *Conn) sendError(code int, message, channel string) {
	c.Send(protocol.ErrorFrame(code, message, channel))
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
