package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
)

// evgitSystem is evgit with the banking model set: bulk loads and gc go
// through the CLI binary, as a user would run them; appends and reads
// through the library (the facade), in a child process each.
type evgitSystem struct {
	bin  string // the evgit binary
	reps int
}

func (evgitSystem) Name() string { return "evgit" }

func (s evgitSystem) cli(ctx context.Context, dir string, args ...string) (proc, error) {
	return run(ctx, cmdSpec{name: s.bin, args: append([]string{"-C", dir}, args...), env: []string{"EVGIT_ACTOR=bench"}, mem: true})
}

func (s evgitSystem) spec(op, dir string, w *Workload) childSpec {
	return childSpec{Op: op, Dir: dir, Seed: w.Cfg.Seed, Events: w.Cfg.Events, Accounts: w.Cfg.Accounts,
		Stream: w.Hot, Mid: w.Mid, MidTime: w.MidTime, Reps: s.reps, Model: w.Model}
}

func (s evgitSystem) Import(ctx context.Context, dir string, w *Workload) (Measure, error) {
	if _, err := s.cli(ctx, ".", "init", dir); err != nil {
		return Measure{}, err
	}
	if _, err := s.cli(ctx, dir, "model", "set", w.Model); err != nil {
		return Measure{}, err
	}
	p, err := s.cli(ctx, dir, "import", w.NDJSON, "--json")
	if err != nil {
		return Measure{}, err
	}
	var res evgit.ImportResult
	if err := json.Unmarshal(p.stdout, &res); err != nil {
		return Measure{}, fmt.Errorf("evgit import --json: %w", err)
	}
	return Measure{Seconds: p.seconds, Events: res.Events, MaxRSS: p.maxRSS, Answer: Answer{Written: res.Events},
		Note: "`evgit import` of the NDJSON file, model rules checked"}, nil
}

func (s evgitSystem) Compact(ctx context.Context, dir string) (Measure, int64, int64, error) {
	gitDir := filepath.Join(dir, evgit.DirName)
	before, err := dirSize(gitDir)
	if err != nil {
		return Measure{}, 0, 0, err
	}
	p, err := s.cli(ctx, dir, "gc", "--prune=now", "--json")
	if err != nil {
		return Measure{}, 0, 0, err
	}
	after, err := dirSize(gitDir)
	return Measure{Seconds: p.seconds, MaxRSS: p.maxRSS, Note: "`evgit gc --prune=now`"}, before, after, err
}

func (s evgitSystem) StreamHead(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("evgit.stream", dir, w))
	m.Note = "Repository.StreamAt(ctx, head, stream)"
	return m, err
}

func (s evgitSystem) StreamMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("evgit.stream-mid", dir, w))
	m.Note = "ResolveAsOf(main, T) + StreamAt"
	return m, err
}

func (s evgitSystem) StateMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("evgit.state-mid", dir, w))
	m.Note = "ResolveAsOf(main, T) + Repository.States: the snapshot nearest T and the events after it, every state decoded"
	return m, err
}

func (s evgitSystem) History(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := runChild(ctx, s.spec("evgit.history", dir, w))
	m.Note = "Repository.Log(stream filter), events with their data"
	return m, err
}

func (s evgitSystem) AppendBatches(ctx context.Context, dir string, w *Workload, size int) (Measure, error) {
	spec := s.spec("evgit.append", dir, w)
	spec.N, spec.Size = w.Cfg.Events, size
	m, err := runChild(ctx, spec)
	m.Note = fmt.Sprintf("Append of %d events a commit", size)
	return m, err
}

func (s evgitSystem) AppendEach(ctx context.Context, dir, _ string, w *Workload) (Measure, error) {
	spec := s.spec("evgit.append", dir, w)
	spec.N, spec.Size = w.singleN(), 1
	m, err := runChild(ctx, spec)
	m.Note = fmt.Sprintf("first %s events, Append of 1 event with its expected version", commas(int64(spec.N)))
	return m, err
}

// accountState is a banking stream's state as the model folds it.
type accountState struct {
	Owner   string `json:"owner"`
	Balance int64  `json:"balance"`
	Frozen  bool   `json:"frozen"`
	Version int    `json:"version,omitempty"` // only in git's files
}

// Child operations.

func init() {
	childOps["evgit.append"] = evgitAppend
	childOps["evgit.stream"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return evgitRead(ctx, s, func(r *evgit.Repository) (Answer, error) {
			id, err := r.Resolve(ctx, "main")
			if err != nil {
				return Answer{}, err
			}
			return evgitStream(ctx, r, id, s.Stream)
		})
	}
	childOps["evgit.stream-mid"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return evgitRead(ctx, s, func(r *evgit.Repository) (Answer, error) {
			id, err := r.ResolveAsOf(ctx, "main", s.MidTime)
			if err != nil {
				return Answer{}, err
			}
			return evgitStream(ctx, r, id, s.Stream)
		})
	}
	childOps["evgit.state-mid"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return evgitRead(ctx, s, func(r *evgit.Repository) (Answer, error) {
			id, err := r.ResolveAsOf(ctx, "main", s.MidTime)
			if err != nil {
				return Answer{}, err
			}
			n, sum := 0, int64(0)
			for s, err := range r.States(ctx, id.String()) {
				if err != nil {
					return Answer{}, err
				}
				var st accountState
				if err := json.Unmarshal(s.State, &st); err != nil {
					return Answer{}, err
				}
				n++
				sum += st.Balance
			}
			return Answer{Streams: n, Balances: sum}, nil
		})
	}
	childOps["evgit.history"] = func(ctx context.Context, s childSpec) (Measure, error) {
		return evgitRead(ctx, s, func(r *evgit.Repository) (Answer, error) {
			n := 0
			for _, err := range r.Log(ctx, evgit.LogOptions{Range: "main", Stream: s.Stream}) {
				if err != nil {
					return Answer{}, err
				}
				n++
			}
			return Answer{Count: n}, nil
		})
	}
}

func evgitStream(ctx context.Context, r *evgit.Repository, id object.ID, stream string) (Answer, error) {
	st, err := r.StreamAt(ctx, id, stream)
	if err != nil {
		return Answer{}, err
	}
	var a accountState
	if err := json.Unmarshal(st.State, &a); err != nil {
		return Answer{}, fmt.Errorf("state of %s: %w", stream, err)
	}
	return Answer{Account: &bankgen.Account{Owner: a.Owner, Balance: a.Balance, Frozen: a.Frozen, Version: int(st.Version)}}, nil
}

// evgitRead opens the repository afresh for each repetition (so its frame
// cache is cold; opening is not timed) and times read.
func evgitRead(ctx context.Context, s childSpec, read func(r *evgit.Repository) (Answer, error)) (Measure, error) {
	return repeat(s.Reps, func() (time.Duration, Answer, error) {
		r, err := evgit.Open(ctx, filepath.Join(s.Dir, evgit.DirName))
		if err != nil {
			return 0, Answer{}, err
		}
		defer r.Close()
		start := time.Now()
		a, err := read(r)
		return time.Since(start), a, err
	})
}

// evgitAppend appends the first s.N events, s.Size events a commit, to a
// new repository with the banking model; with one event a commit each
// Append names the stream's expected version, as an aggregate would.
func evgitAppend(ctx context.Context, s childSpec) (Measure, error) {
	r, _, err := evgit.Init(ctx, s.Dir, evgit.InitOptions{})
	if err != nil {
		return Measure{}, err
	}
	closed := false
	defer func() {
		if !closed {
			r.Close()
		}
	}()
	src, err := os.ReadFile(s.Model)
	if err != nil {
		return Measure{}, err
	}
	if _, err := r.SetModel(ctx, src, "bench"); err != nil {
		return Measure{}, err
	}
	g := bankgen.New(bankgen.Config{Seed: s.Seed, Events: s.N, Accounts: s.Accounts})
	versions := map[string]uint64{}
	batch := make([]evgit.EventInput, 0, s.Size)
	var buf []byte
	start := time.Now()
	written := 0
	for written < s.N {
		batch = batch[:0]
		opts := evgit.AppendOptions{Actor: "bench"}
		for len(batch) < s.Size && written < s.N {
			e, _ := g.Next()
			buf = e.AppendData(buf[:0])
			batch = append(batch, evgit.EventInput{
				Stream: e.Stream, Type: e.Type, Schema: e.Schema,
				Data: json.RawMessage(string(buf)),
				Meta: map[string]string{"actor": e.Actor, "time": e.Time.Format(time.RFC3339)},
			})
			if len(batch) == 1 {
				opts.Time = e.Time
			}
			if s.Size == 1 {
				opts.Expect = map[string]uint64{e.Stream: versions[e.Stream]}
				versions[e.Stream]++
			}
			written++
		}
		if _, err := r.Append(ctx, batch, opts); err != nil {
			return Measure{}, err
		}
	}
	// Close is timed too: it records the snapshot the last commit left
	// building, as SQLite's Close checkpoints its WAL.
	closed = true
	if err := r.Close(); err != nil {
		return Measure{}, err
	}
	return Measure{Seconds: time.Since(start).Seconds(), Events: written, Answer: Answer{Written: written}}, nil
}
