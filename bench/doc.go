// Package bench holds evgit's comparative benchmarks, kept in a module of
// their own so that the SQLite driver they measure against never becomes a
// dependency of evgit itself.
//
// cmd/peerbench runs evgit, git and an events table in SQLite side by side
// on the same generated banking workload and prints one table (see
// docs/performance.md). The Go benchmarks of this package cover the hot
// paths below the facade that the root package's benchmarks (import,
// append, random reads) do not: encoding and hashing an event, and
// encoding and decoding a commit.
//
//	cd bench && go test -run '^$' -bench . -benchmem
package bench
