// Package server is the composition root: from a validated config.Config it
// builds the app store, registry, presence store, broker, connection hub,
// WebSocket endpoint and HTTP API, serves them on one listener, and shuts
// them down gracefully.
//
// It is the only package that sees both connection and httpapi.
package server
