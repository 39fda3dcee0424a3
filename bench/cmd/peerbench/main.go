// Command peerbench measures evgit against what a user would pick instead,
// side by side on the same machine in one run: git (one commit per event,
// a file per account) and an events table in SQLite (modernc.org/sqlite,
// WAL, synchronous=FULL, UNIQUE(stream, version)).
//
// It generates the seeded banking workload (bankgen) at the chosen size,
// loads it into each system, reads it back, compacts it, appends it again
// one event and 1000 events a durable commit, checks that every system
// computed the same answers, and prints a Markdown table (or JSON with
// -json) with each figure and the ratio evgit/peer, the peak memory of
// each operation, and whether evgit meets its targets.
//
//	cd bench && go run ./cmd/peerbench -events 100000
//
// docs/performance.md explains each figure.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/evgit/evgit/bankgen"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == childFlag {
		os.Exit(childMain(os.Args[2]))
	}
	os.Exit(mainErr())
}

type options struct {
	events    int
	accounts  int
	seed      uint64
	reps      int
	single    int
	gitSample int
	batch     int
	systems   string
	dir       string
	keep      bool
	evgitBin  string
	json      bool
}

func mainErr() int {
	var o options
	flag.IntVar(&o.events, "events", 100_000, "events in the workload")
	flag.IntVar(&o.accounts, "accounts", 0, "accounts (streams) in the workload; 0: events/10")
	flag.Uint64Var(&o.seed, "seed", 1, "workload seed")
	flag.IntVar(&o.reps, "reps", 7, "repetitions of each read (the median is reported)")
	flag.IntVar(&o.single, "single", 100_000, "events appended one durable commit each (at most -events)")
	flag.IntVar(&o.gitSample, "git-sample", 300, "events git appends one commit each, to extrapolate from (0: skip)")
	flag.IntVar(&o.batch, "batch", 1000, "events a durable batch")
	flag.StringVar(&o.systems, "systems", "evgit,sqlite,git", "systems to run, comma separated")
	flag.StringVar(&o.dir, "dir", "", "folder for the run (default: a new temporary folder)")
	flag.BoolVar(&o.keep, "keep", false, "keep the run's folder")
	flag.StringVar(&o.evgitBin, "evgit", "", "evgit binary to use (default: built from this checkout)")
	flag.BoolVar(&o.json, "json", false, "print JSON instead of Markdown")
	from := flag.String("markdown-from", "", "print the Markdown of a report saved with -json, and run nothing")
	flag.Parse()
	if *from != "" {
		rep, err := readReport(*from)
		if err != nil {
			fmt.Fprintln(os.Stderr, "peerbench:", err)
			return 1
		}
		rep.writeMarkdown(os.Stdout)
		return 0
	}
	if flag.NArg() != 0 || o.events < 2 {
		flag.Usage()
		return 2
	}
	if o.accounts == 0 {
		o.accounts = max(o.events/10, 1)
	}
	ctx := context.Background()
	rep, err := benchmark(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerbench:", err)
		return 1
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "peerbench:", err)
			return 1
		}
	} else {
		rep.writeMarkdown(os.Stdout)
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peerbench: "+format+"\n", args...)
}

func benchmark(ctx context.Context, o options) (*Report, error) {
	started := time.Now()
	dir := o.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "peerbench-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	dir, _ = filepath.Abs(dir)
	if !o.keep {
		defer os.RemoveAll(dir)
	} else {
		logf("keeping %s", dir)
	}

	cfg := bankgen.Config{Seed: o.seed, Events: o.events, Accounts: o.accounts}
	logf("generating %d events over %d accounts (seed %d)", o.events, o.accounts, o.seed)
	w, err := prepare(dir, cfg, min(o.single, o.events), o.gitSample)
	if err != nil {
		return nil, err
	}

	var systems []System
	for _, name := range strings.Split(o.systems, ",") {
		switch strings.TrimSpace(name) {
		case "evgit":
			bin := o.evgitBin
			if bin == "" {
				logf("building the evgit CLI")
				if bin, err = buildEvgit(ctx, dir); err != nil {
					return nil, err
				}
			}
			s := evgitSystem{bin: bin, reps: o.reps}
			systems = append(systems, s)
		case "sqlite":
			systems = append(systems, sqliteSystem{reps: o.reps})
		case "git":
			if _, err := exec.LookPath("git"); err != nil {
				return nil, fmt.Errorf("git is not on the PATH: %w", err)
			}
			systems = append(systems, gitSystem{reps: o.reps})
		default:
			return nil, fmt.Errorf("unknown system %q (want evgit, sqlite, git)", name)
		}
	}

	rep := newReport(o, w)
	rep.Command = strings.TrimSpace("cd bench && go run ./cmd/peerbench " + strings.Join(os.Args[1:], " "))
	rep.Machine = machine(ctx)
	loaded := map[string]string{}
	folder := func(s System, what string) string {
		return filepath.Join(dir, strings.ToLower(s.Name()), what)
	}
	record := func(row string, s System, m Measure, err error) {
		if err == nil {
			err = w.check(row, m.Answer)
		}
		rep.set(row, s.Name(), m, err)
		if err != nil {
			logf("%s %s: %v", s.Name(), row, err)
		} else {
			logf("%-6s %-13s %s", s.Name(), row, rep.cell(row, s.Name()))
		}
	}

	// Each operation runs the systems in turn, the first one going first
	// in every other operation: none always meets a cold machine, or one
	// the other left busy (page cache, writeback).
	op := 0
	inTurn := func() []System {
		op++
		out := slices.Clone(systems)
		if op%2 == 0 {
			slices.Reverse(out)
		}
		return out
	}
	for _, s := range inTurn() {
		d := folder(s, "loaded")
		m, err := s.Import(ctx, d, w)
		record(rowImport, s, m, err)
		if err == nil {
			loaded[s.Name()] = d
		}
	}
	for _, s := range inTurn() {
		d, ok := loaded[s.Name()]
		if !ok {
			continue
		}
		m, before, after, err := s.Compact(ctx, d)
		record(rowCompact, s, m, err)
		if err == nil {
			rep.set(rowSizeBefore, s.Name(), Measure{Bytes: before}, nil)
			rep.set(rowSize, s.Name(), Measure{Bytes: after, Note: m.Note}, nil)
		}
	}
	reads := []struct {
		row string
		fn  func(System) func(context.Context, string, *Workload) (Measure, error)
	}{
		{rowStreamHead, func(s System) func(context.Context, string, *Workload) (Measure, error) { return s.StreamHead }},
		{rowStreamMid, func(s System) func(context.Context, string, *Workload) (Measure, error) { return s.StreamMid }},
		{rowHistory, func(s System) func(context.Context, string, *Workload) (Measure, error) { return s.History }},
		{rowStateMid, func(s System) func(context.Context, string, *Workload) (Measure, error) { return s.StateMid }},
	}
	for _, rd := range reads {
		for _, s := range inTurn() {
			d, ok := loaded[s.Name()]
			if !ok {
				continue
			}
			m, err := rd.fn(s)(ctx, d, w)
			record(rd.row, s, m, err)
		}
	}
	for _, s := range inTurn() {
		d := folder(s, "batches")
		m, err := s.AppendBatches(ctx, d, w, o.batch)
		record(rowAppendBatch, s, m, err)
		os.RemoveAll(d)
	}
	for _, s := range inTurn() {
		d := folder(s, "single")
		m, err := s.AppendEach(ctx, d, loaded[s.Name()], w)
		record(rowAppendEach, s, m, err)
		os.RemoveAll(d)
	}
	rep.Seconds = time.Since(started).Seconds()
	rep.finish()
	return rep, nil
}

// prepare generates the workload's files and the answers every system must
// find.
func prepare(dir string, cfg bankgen.Config, single, sample int) (*Workload, error) {
	w := &Workload{Cfg: cfg, Dir: dir, NDJSON: filepath.Join(dir, "events.ndjson"), Model: filepath.Join(dir, "bank.yaml"),
		Mid: cfg.Events / 2, Single: single, Sample: sample}
	if err := os.WriteFile(w.Model, []byte(bankgen.Model), 0o644); err != nil {
		return nil, err
	}
	f, err := os.Create(w.NDJSON)
	if err != nil {
		return nil, err
	}
	if err := bankgen.Write(f, cfg); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	r := bankgen.NewReplayer()
	counts := map[string]int{}
	var atMid map[string]bankgen.Account
	i := 0
	for e := range bankgen.New(cfg).All() {
		if err := r.Apply(e); err != nil {
			return nil, fmt.Errorf("the workload does not fold: %w", err)
		}
		counts[e.Stream]++
		if i++; i == w.Mid {
			atMid = r.State()
			w.MidTime = e.Time
		}
	}
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		if counts[s] > w.HotEvents {
			w.Hot, w.HotEvents = s, counts[s]
		}
	}
	w.HotHead, _ = r.Get(w.Hot)
	w.HotMid = atMid[w.Hot]
	w.MidCount = len(atMid)
	for _, a := range atMid {
		w.MidSum += a.Balance
	}
	return w, nil
}

func (w *Workload) singleN() int { return w.Single }

// check compares an operation's answer with the workload's.
func (w *Workload) check(row string, a Answer) error {
	account := func(want bankgen.Account) error {
		if a.Account == nil || *a.Account != want {
			return fmt.Errorf("wrong state of %s: got %+v, want %+v", w.Hot, a.Account, want)
		}
		return nil
	}
	switch row {
	case rowStreamHead:
		return account(w.HotHead)
	case rowStreamMid:
		return account(w.HotMid)
	case rowStateMid:
		if a.Streams != w.MidCount || a.Balances != w.MidSum {
			return fmt.Errorf("wrong state at the middle: %d streams, balances %d; want %d, %d", a.Streams, a.Balances, w.MidCount, w.MidSum)
		}
	case rowHistory:
		if a.Count != w.HotEvents {
			return fmt.Errorf("history of %s has %d entries, want %d", w.Hot, a.Count, w.HotEvents)
		}
	case rowImport, rowAppendBatch:
		if a.Written != w.Cfg.Events {
			return fmt.Errorf("wrote %d events, want %d", a.Written, w.Cfg.Events)
		}
	}
	return nil
}

// buildEvgit builds the evgit CLI of this checkout into dir.
func buildEvgit(ctx context.Context, dir string) (string, error) {
	p, err := run(ctx, cmdSpec{name: "go", args: []string{"list", "-m", "-f", "{{.Dir}}", "github.com/evgit/evgit"}})
	if err != nil {
		return "", fmt.Errorf("finding evgit's source (run from bench/, or name a binary with -evgit): %w", err)
	}
	root := strings.TrimSpace(string(p.stdout))
	bin := filepath.Join(dir, "bin", "evgit")
	if _, err := run(ctx, cmdSpec{dir: root, name: "go", args: []string{"build", "-o", bin, "./cmd/evgit"}}); err != nil {
		return "", err
	}
	return bin, nil
}

// machine describes where the run happened.
func machine(ctx context.Context) Machine {
	m := Machine{OS: runtime.GOOS + "/" + runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if p, err := run(ctx, cmdSpec{name: "git", args: []string{"--version"}}); err == nil {
		m.Git = strings.TrimSpace(strings.TrimPrefix(string(p.stdout), "git version "))
	}
	if db, err := sql.Open("sqlite", ":memory:"); err == nil {
		_ = db.QueryRow("SELECT sqlite_version()").Scan(&m.SQLite)
		db.Close()
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
