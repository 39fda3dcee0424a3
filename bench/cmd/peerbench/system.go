package main

import (
	"context"
	"time"

	"github.com/evgit/evgit/bankgen"
)

// System is one event store under test. Every method works in folders the
// harness hands it and returns what it measured; the harness checks the
// answers against the workload's expectations, so the three systems are
// seen to compute the same thing.
type System interface {
	Name() string
	// Import bulk-loads the whole workload into a store created in dir:
	// one commit (or row) per event.
	Import(ctx context.Context, dir string, w *Workload) (Measure, error)
	// Compact compacts the store in dir (gc, VACUUM) and returns its size
	// before and after.
	Compact(ctx context.Context, dir string) (m Measure, before, after int64, err error)
	// StreamHead loads the hottest stream's state at the head.
	StreamHead(ctx context.Context, dir string, w *Workload) (Measure, error)
	// StreamMid loads the hottest stream's state as of the middle of history.
	StreamMid(ctx context.Context, dir string, w *Workload) (Measure, error)
	// StateMid builds the state of every stream as of the middle of history.
	StateMid(ctx context.Context, dir string, w *Workload) (Measure, error)
	// History reads the hottest stream's history.
	History(ctx context.Context, dir string, w *Workload) (Measure, error)
	// AppendBatches appends the workload durably, size events a commit
	// (transaction), to a new store in dir.
	AppendBatches(ctx context.Context, dir string, w *Workload, size int) (Measure, error)
	// AppendEach appends events one durable commit (transaction) each to a
	// new store in dir; loaded is the folder of the bulk-loaded store, for a
	// system that measures a sample on top of the full history.
	AppendEach(ctx context.Context, dir, loaded string, w *Workload) (Measure, error)
}

// Measure is one measured operation.
type Measure struct {
	Seconds float64 `json:"seconds"`         // wall time of the operation (median over repetitions for reads)
	Events  int     `json:"events"`          // events written, for rates
	Bytes   int64   `json:"bytes,omitempty"` // sizes
	MaxRSS  int64   `json:"max_rss"`         // peak resident set of the process(es) that did the work, in bytes
	Reps    int     `json:"reps,omitempty"`  // runs of a read, Seconds being their median; 0 for other operations
	Note    string  `json:"note,omitempty"`  // how the system did the operation, for the report
	Answer  Answer  `json:"answer"`          // what the operation computed, checked against the workload
}

// Answer is what an operation computed, checked against the workload.
type Answer struct {
	Account  *bankgen.Account `json:"account,omitempty"`  // stream loads
	Count    int              `json:"count,omitempty"`    // history: commits or rows of the stream
	Streams  int              `json:"streams,omitempty"`  // whole state: streams
	Balances int64            `json:"balances,omitempty"` // whole state: sum of balances
	Written  int              `json:"written,omitempty"`  // appends and imports: events written
}

// Workload is the generated banking workload, with the answers every
// system must find.
type Workload struct {
	// Cfg is the bankgen configuration that generates the events.
	Cfg    bankgen.Config
	Dir    string // the run's folder
	NDJSON string // the events as NDJSON (SPEC §2)
	Model  string // the banking model file

	Hot     string    // the hottest stream
	Mid     int       // the middle of history is after the first Mid events
	MidTime time.Time // business (and commit) time of event Mid-1

	// HotHead is Hot's state after the whole history.
	HotHead bankgen.Account
	// HotMid is Hot's state after the first Mid events.
	HotMid    bankgen.Account
	HotEvents int // events of Hot in the whole history
	MidCount  int // streams at the middle
	// MidSum is the sum of the balances of the streams at the middle.
	MidSum int64
	Single int // events appended one commit each by evgit and SQLite
	Sample int // git's single-commit sample size
}

// gitPath is where the git layout keeps an account's file: two levels of
// folders from the account number's low digits, so 10 000 accounts make
// 100 folders of 100 folders of one file (acc/00/00/acc-000000.json).
func gitPath(stream string) string {
	n := stream[len(stream)-4:]
	return "acc/" + n[2:4] + "/" + n[0:2] + "/" + stream + ".json"
}
