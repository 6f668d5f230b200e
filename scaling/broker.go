package scaling

import "context"

// Envelope is one message for one channel of one app. Payload is opaque and
// must not be modified after Publish.
type Envelope struct {
	App     string
	Channel string
	Payload []byte
}

// Broker moves envelopes between nodes.
//
// Delivery: Publish reaches every other node that has declared interest in
// the envelope's channel with Subscribe, at most once each; the publishing
// node delivers to its own subscribers itself, without a round trip.
// Ordering: envelopes published by one node to one channel arrive at each
// other node in publish order. Nothing is stored: a node that is not
// subscribed when an envelope passes never sees it.
type Broker interface {
	// Publish sends env to the other interested nodes. It does not wait for
	// the network: envelopes are sent in the background, in call order, and
	// a failure there is counted and logged by the broker. The error is for
	// an envelope that cannot be sent at all.
	Publish(ctx context.Context, env Envelope) error
	// Subscribe and Unsubscribe declare which channels this node has local
	// subscribers for. They never block: the broker applies them in the
	// background, in call order.
	Subscribe(app, channel string)
	Unsubscribe(app, channel string)
	// Await blocks until envelopes published to the channel from now on
	// will reach this node (after Subscribe), or ctx ends. A subscriber is
	// told it is subscribed only after this, so nothing published after
	// that is missed.
	Await(ctx context.Context, app, channel string) error
	// Run delivers envelopes from other nodes to deliver, one at a time,
	// until ctx ends. It returns ctx's error.
	Run(ctx context.Context, deliver func(Envelope)) error
}

// Local is the Broker of a single node: there is no other node to reach.
type Local struct{}

// Publish implements Broker; with no other node it does nothing.
func (Local) Publish(context.Context, Envelope) error { return nil }

// Subscribe implements Broker.
func (Local) Subscribe(string, string) {}

// Unsubscribe implements Broker.
func (Local) Unsubscribe(string, string) {}

// Await implements Broker: local delivery needs no waiting.
func (Local) Await(context.Context, string, string) error { return nil }

// Run implements Broker: it waits for ctx.
func (Local) Run(ctx context.Context, _ func(Envelope)) error {
	<-ctx.Done()
	return ctx.Err()
}
