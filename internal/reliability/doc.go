// Package reliability holds the tests that break the running system on
// purpose: processes killed mid-sale, the database stopped under load, a
// deploy's SIGTERM with requests in flight. They run the real binaries as
// subprocesses against a real PostgreSQL; `make test-reliability` runs them
// alone, with their reports.
package reliability
