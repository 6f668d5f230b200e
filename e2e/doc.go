// Package e2e holds the end-to-end tests: each starts a real Quaver node
// in-process (internal/testserver) and drives the real npm clients against
// it through internal/jsdriver — pusher-js 8 (Node build), laravel-echo 2
// with the reverb and pusher broadcasters, and the pusher server SDK 5,
// whose auth endpoint signs over HTTP as a Laravel app does. Raw Go clients
// (package client) stand in where a misbehaving peer is needed.
//
// The package has no code of its own besides this file.
package e2e
