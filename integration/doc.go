// Package integration holds end-to-end tests of the whole delivery path:
// the HTTP API, the emitter, an embedded Temporal server, a worker, a real
// PostgreSQL database and real HTTP receivers. It has no non-test code.
package integration
