// Package broadcast is the one path every published event takes, whatever
// its source (HTTP API, client event, Redis Stream ingest): remember it for
// cache channels, deliver it to this node's subscribers, and hand it to the
// scaling Broker for the other nodes. It also delivers what other nodes
// publish.
//
// It imports channels, scaling, protocol and the standard library.
package broadcast
