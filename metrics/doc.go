// Package metrics holds Quaver's Prometheus collectors. Every method is
// safe on a nil *Metrics, so packages and tests that do not care about
// metrics pass nil.
//
// It imports only the standard library and client_golang.
package metrics
