package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one finished process: its wall time and peak resident set.
type proc struct {
	seconds float64
	maxRSS  int64 // bytes
	stdout  []byte
}

// cmdSpec describes a process to run.
type cmdSpec struct {
	dir    string
	env    []string // added to the environment
	stdin  io.Reader
	stdout io.Writer // nil: captured into proc.stdout
	name   string
	args   []string
	// mem measures the peak resident set, through /usr/bin/time -v where
	// it is installed; only for runs whose time is long enough not to
	// notice the wrapper's fork.
	mem bool
}

// timeBin is GNU time, which reports a process's peak resident set.
const timeBin = "/usr/bin/time"

// run runs a process and measures it. With mem, the peak resident set is
// the "Maximum resident set size" that /usr/bin/time -v reports. The
// ru_maxrss that wait4 gives Go directly is not used when GNU time is
// there: Go starts processes with vfork semantics (CLONE_VM), so the
// child's figure starts at the harness's own peak.
func run(ctx context.Context, c cmdSpec) (proc, error) {
	name, args := c.name, c.args
	var report string
	if c.mem {
		if _, err := os.Stat(timeBin); err == nil {
			f, err := os.CreateTemp("", "peerbench-time-")
			if err != nil {
				return proc{}, err
			}
			f.Close()
			report = f.Name()
			defer os.Remove(report)
			name, args = timeBin, append([]string{"-v", "-o", report, c.name}, c.args...)
		}
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = c.dir
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	cmd.Stdin = c.stdin
	var out, stderr bytes.Buffer
	if c.stdout != nil {
		cmd.Stdout = c.stdout
	} else {
		cmd.Stdout = &out
	}
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	p := proc{seconds: time.Since(start).Seconds(), stdout: out.Bytes()}
	switch {
	case !c.mem:
	case report != "":
		p.maxRSS = timeReport(report)
	case cmd.ProcessState != nil:
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if err != nil {
		return p, fmt.Errorf("%s %s: %v: %s", c.name, strings.Join(c.args, " "), err, strings.TrimSpace(lastLines(stderr.String(), 5)))
	}
	return p, nil
}

// timeReport reads the peak resident set, in bytes, from GNU time's -v
// report.
func timeReport(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Maximum resident set size (kbytes)" {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n * 1024
			}
		}
	}
	return 0
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// childSpec is the work a child process does: the harness runs in-process
// measurements of evgit and SQLite in a fresh copy of itself, so each has
// its own cold caches and its own peak resident set.
type childSpec struct {
	Op       string    `json:"op"`
	Dir      string    `json:"dir"`
	Seed     uint64    `json:"seed"`
	Events   int       `json:"events"`
	Accounts int       `json:"accounts"`
	N        int       `json:"n,omitempty"`    // events to append
	Size     int       `json:"size,omitempty"` // events a batch
	Stream   string    `json:"stream,omitempty"`
	Mid      int       `json:"mid,omitempty"`
	MidTime  time.Time `json:"mid_time"`
	Reps     int       `json:"reps,omitempty"`
	Model    string    `json:"model,omitempty"`
	NDJSON   string    `json:"ndjson,omitempty"` // the events file an import reads
}

// childFlag is the hidden flag that makes the program a child.
const childFlag = "-child"

// runChild runs op in a child process and returns its measure, with the
// child's peak resident set.
func runChild(ctx context.Context, spec childSpec) (Measure, error) {
	exe, err := os.Executable()
	if err != nil {
		return Measure{}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return Measure{}, err
	}
	p, err := run(ctx, cmdSpec{name: exe, args: []string{childFlag, string(b)}, mem: true})
	if err != nil {
		return Measure{}, fmt.Errorf("%s: %w", spec.Op, err)
	}
	var m Measure
	if err := json.Unmarshal(lastLine(p.stdout), &m); err != nil {
		return Measure{}, fmt.Errorf("%s: reading the child's answer %q: %w", spec.Op, p.stdout, err)
	}
	m.MaxRSS = p.maxRSS
	return m, nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// childOps are the operations a child can run.
var childOps = map[string]func(ctx context.Context, s childSpec) (Measure, error){}

// childMain runs one child operation and prints its measure as JSON.
func childMain(arg string) int {
	var spec childSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "peerbench child:", err)
		return 2
	}
	op, ok := childOps[spec.Op]
	if !ok {
		fmt.Fprintln(os.Stderr, "peerbench child: unknown op", spec.Op)
		return 2
	}
	m, err := op(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerbench child:", spec.Op+":", err)
		return 1
	}
	b, _ := json.Marshal(m)
	fmt.Println(string(b))
	return 0
}

// repeat runs a read reps times and keeps the median time; setup (opening
// the store) is not timed, and each repetition starts from a fresh open so
// the store's own caches are cold. The answers of all repetitions must agree.
func repeat(reps int, once func() (time.Duration, Answer, error)) (Measure, error) {
	if reps < 1 {
		reps = 1
	}
	var times []float64
	var ans Answer
	for i := range reps {
		d, a, err := once()
		if err != nil {
			return Measure{}, err
		}
		if i == 0 {
			ans = a
		}
		times = append(times, d.Seconds())
	}
	return Measure{Seconds: median(times), Reps: reps, Answer: ans}, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	return total, err
}
