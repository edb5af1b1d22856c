// Package resilience holds the tests that run the real refactor binary
// against real PostgreSQL and storage and then break things: the database
// stops under load, storage fails, the server is killed with SIGKILL in the
// middle of writes, and a mixed load soaks it. It has no code of its own.
//
// `make test` runs each suite in a short form; longer runs are flags:
//
//	go test ./resilience -run Soak -soak=10m
//	go test ./resilience -run Kill -kills=25
//	go test ./resilience -run RoundTrip -roundtrip.rows=1000000 -timeout=30m
package resilience
