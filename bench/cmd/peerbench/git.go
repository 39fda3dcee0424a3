package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/evgit/evgit/bankgen"
)

// gitSystem is git used as an event store, as the seed's own example does:
// one commit per event whose message is the event and which rewrites the
// account's file, holding its state after the event, in two levels of
// folders. git gets its best settings: fast-import for loads, gc and a
// commit-graph with changed-path Bloom filters for history lookups, and
// core.fsync=all so that its commits are as durable as the others'.
type gitSystem struct{ reps int }

func (gitSystem) Name() string { return "git" }

func (gitSystem) git(ctx context.Context, dir string, stdin io.Reader, args ...string) (proc, error) {
	return run(ctx, cmdSpec{dir: dir, name: "git", args: args, stdin: stdin})
}

// gitMem runs git and measures its peak resident set.
func (gitSystem) gitMem(ctx context.Context, mem bool, dir string, stdin io.Reader, args ...string) (proc, error) {
	return run(ctx, cmdSpec{dir: dir, name: "git", args: args, stdin: stdin, mem: mem})
}

func (s gitSystem) initRepo(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := s.git(ctx, dir, nil, "init", "--bare", "--quiet", "--initial-branch=main", "."); err != nil {
		return err
	}
	for _, kv := range [][2]string{
		{"core.fsync", "all"}, {"core.fsyncMethod", "fsync"}, {"gc.auto", "0"},
		{"user.name", "bench"}, {"user.email", "bench@bank.example"},
	} {
		if _, err := s.git(ctx, dir, nil, "config", kv[0], kv[1]); err != nil {
			return err
		}
	}
	return nil
}

// fastImport runs git fast-import on the stream that write produces; the
// stream is generated while git reads it, so its (small) cost is counted.
func (s gitSystem) fastImport(ctx context.Context, dir string, write func(w *bufio.Writer) error) (proc, error) {
	pr, pw := io.Pipe()
	go func() {
		bw := bufio.NewWriterSize(pw, 1<<20)
		err := write(bw)
		if err == nil {
			_, err = bw.WriteString("done\n")
		}
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	p, err := s.gitMem(ctx, true, dir, pr, "fast-import", "--quiet", "--done")
	pr.CloseWithError(errors.New("fast-import ended"))
	return p, err
}

// stateFile is an account's file: its state after an event, with version.
func stateFile(dst []byte, a bankgen.Account) []byte {
	dst = append(dst, `{"balance":`...)
	dst = strconv.AppendInt(dst, a.Balance, 10)
	dst = append(dst, `,"frozen":`...)
	dst = strconv.AppendBool(dst, a.Frozen)
	dst = append(dst, `,"owner":`...)
	dst = appendQuoted(dst, a.Owner)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendInt(dst, int64(a.Version), 10)
	return append(dst, "}\n"...)
}

func writeData(w *bufio.Writer, b []byte) {
	w.WriteString("data ")
	w.WriteString(strconv.Itoa(len(b)))
	w.WriteByte('\n')
	w.Write(b)
	w.WriteByte('\n')
}

func writeCommitHeader(w *bufio.Writer, e bankgen.Event, msg []byte) {
	w.WriteString("commit refs/heads/main\ncommitter ")
	w.WriteString(e.Actor)
	w.WriteString(" <")
	w.WriteString(e.Actor)
	w.WriteString("@bank.example> ")
	w.WriteString(strconv.FormatInt(e.Time.Unix(), 10))
	w.WriteString(" +0000\n")
	writeData(w, msg)
}

func (s gitSystem) Import(ctx context.Context, dir string, w *Workload) (Measure, error) {
	if err := s.initRepo(ctx, dir); err != nil {
		return Measure{}, err
	}
	n := 0
	p, err := s.fastImport(ctx, dir, func(bw *bufio.Writer) error {
		r := bankgen.NewReplayer()
		var line, state []byte
		for e := range bankgen.New(w.Cfg).All() {
			if err := r.Apply(e); err != nil {
				return err
			}
			a, _ := r.Get(e.Stream)
			line = e.AppendNDJSON(line[:0])
			writeCommitHeader(bw, e, line[:len(line)-1])
			bw.WriteString("M 100644 inline ")
			bw.WriteString(gitPath(e.Stream))
			bw.WriteByte('\n')
			state = stateFile(state[:0], a)
			writeData(bw, state)
			bw.WriteByte('\n')
			n++
		}
		return nil
	})
	if err != nil {
		return Measure{}, err
	}
	return Measure{Seconds: p.seconds, Events: n, MaxRSS: p.maxRSS, Answer: Answer{Written: n},
		Note: "fast-import, one commit per event, file per account in acc/NN/NN/"}, nil
}

func (s gitSystem) Compact(ctx context.Context, dir string) (Measure, int64, int64, error) {
	before, err := dirSize(dir)
	if err != nil {
		return Measure{}, 0, 0, err
	}
	gc, err := s.gitMem(ctx, true, dir, nil, "gc", "--quiet")
	if err != nil {
		return Measure{}, 0, 0, err
	}
	cg, err := s.gitMem(ctx, true, dir, nil, "commit-graph", "write", "--reachable", "--changed-paths")
	if err != nil {
		return Measure{}, 0, 0, err
	}
	after, err := dirSize(dir)
	return Measure{Seconds: gc.seconds + cg.seconds, MaxRSS: max(gc.maxRSS, cg.maxRSS),
		Note: "`git gc`, then `git commit-graph write --reachable --changed-paths`"}, before, after, err
}

// repeatProcs times a sequence of git processes reps times, then runs it
// once more under /usr/bin/time for its peak resident set, so that the
// wrapper's fork is not in the times.
func (s gitSystem) repeatProcs(once func(mem bool) (float64, int64, Answer, error)) (Measure, error) {
	m, err := repeat(s.reps, func() (time.Duration, Answer, error) {
		secs, _, a, err := once(false)
		return time.Duration(secs * float64(time.Second)), a, err
	})
	if err != nil {
		return m, err
	}
	_, m.MaxRSS, _, err = once(true)
	return m, err
}

func parseStateFile(b []byte) (*bankgen.Account, error) {
	var st accountState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("account file %q: %w", b, err)
	}
	return &bankgen.Account{Owner: st.Owner, Balance: st.Balance, Frozen: st.Frozen, Version: st.Version}, nil
}

func (s gitSystem) StreamHead(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := s.repeatProcs(func(mem bool) (float64, int64, Answer, error) {
		p, err := s.gitMem(ctx, mem, dir, nil, "cat-file", "-p", "main:"+gitPath(w.Hot))
		if err != nil {
			return 0, 0, Answer{}, err
		}
		a, err := parseStateFile(p.stdout)
		return p.seconds, p.maxRSS, Answer{Account: a}, err
	})
	m.Note = "`git cat-file -p main:<path>`"
	return m, err
}

// commitAt finds the commit of the middle of history by its time.
func (s gitSystem) commitAt(ctx context.Context, mem bool, dir string, t time.Time) (string, proc, error) {
	p, err := s.gitMem(ctx, mem, dir, nil, "rev-list", "-1", "--before="+strconv.FormatInt(t.Unix(), 10), "main")
	return strings.TrimSpace(string(p.stdout)), p, err
}

func (s gitSystem) StreamMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := s.repeatProcs(func(mem bool) (float64, int64, Answer, error) {
		c, p1, err := s.commitAt(ctx, mem, dir, w.MidTime)
		if err != nil {
			return 0, 0, Answer{}, err
		}
		p2, err := s.gitMem(ctx, mem, dir, nil, "cat-file", "-p", c+":"+gitPath(w.Hot))
		if err != nil {
			return 0, 0, Answer{}, err
		}
		a, err := parseStateFile(p2.stdout)
		return p1.seconds + p2.seconds, max(p1.maxRSS, p2.maxRSS), Answer{Account: a}, err
	})
	m.Note = "`git rev-list -1 --before=T` + `git cat-file -p`"
	return m, err
}

func (s gitSystem) StateMid(ctx context.Context, dir string, w *Workload) (Measure, error) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return Measure{}, err
	}
	defer devNull.Close()
	var mid string
	m, err := s.repeatProcs(func(mem bool) (float64, int64, Answer, error) {
		c, p1, err := s.commitAt(ctx, mem, dir, w.MidTime)
		if err != nil {
			return 0, 0, Answer{}, err
		}
		mid = c
		p2, err := run(ctx, cmdSpec{dir: dir, name: "git", args: []string{"archive", c}, stdout: devNull, mem: mem})
		return p1.seconds + p2.seconds, max(p1.maxRSS, p2.maxRSS), Answer{}, err
	})
	if err != nil {
		return m, err
	}
	// Check, untimed, that the archive holds the expected state.
	m.Answer, err = s.archiveAnswer(ctx, dir, mid)
	m.Note = "`git rev-list -1 --before=T` + `git archive` (tar to /dev/null)"
	return m, err
}

func (s gitSystem) archiveAnswer(ctx context.Context, dir, commit string) (Answer, error) {
	var buf bytes.Buffer
	if _, err := run(ctx, cmdSpec{dir: dir, name: "git", args: []string{"archive", commit}, stdout: &buf}); err != nil {
		return Answer{}, err
	}
	tr := tar.NewReader(&buf)
	var a Answer
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return a, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return a, err
		}
		acc, err := parseStateFile(b)
		if err != nil {
			return a, err
		}
		a.Streams++
		a.Balances += acc.Balance
	}
}

func (s gitSystem) History(ctx context.Context, dir string, w *Workload) (Measure, error) {
	m, err := s.repeatProcs(func(mem bool) (float64, int64, Answer, error) {
		p, err := s.gitMem(ctx, mem, dir, nil, "log", "main", "--", gitPath(w.Hot))
		if err != nil {
			return 0, 0, Answer{}, err
		}
		n := bytes.Count(p.stdout, []byte("\ncommit "))
		if bytes.HasPrefix(p.stdout, []byte("commit ")) {
			n++
		}
		return p.seconds, p.maxRSS, Answer{Count: n}, nil
	})
	m.Note = "`git log main -- <path>` with Bloom filters"
	return m, err
}

func (s gitSystem) AppendBatches(ctx context.Context, dir string, w *Workload, size int) (Measure, error) {
	if err := s.initRepo(ctx, dir); err != nil {
		return Measure{}, err
	}
	n := 0
	p, err := s.fastImport(ctx, dir, func(bw *bufio.Writer) error {
		r := bankgen.NewReplayer()
		g := bankgen.New(w.Cfg)
		var msg, state []byte
		touched := map[string]bool{}
		var order []string
		for {
			msg, order = msg[:0], order[:0]
			clear(touched)
			var first bankgen.Event
			for len(order) == 0 || n%size != 0 {
				e, ok := g.Next()
				if !ok {
					break
				}
				if err := r.Apply(e); err != nil {
					return err
				}
				if len(msg) == 0 {
					first = e
				}
				msg = e.AppendNDJSON(msg)
				if !touched[e.Stream] {
					touched[e.Stream] = true
					order = append(order, e.Stream)
				}
				n++
			}
			if len(order) == 0 {
				return nil
			}
			writeCommitHeader(bw, first, msg)
			for _, stream := range order {
				a, _ := r.Get(stream)
				bw.WriteString("M 100644 inline ")
				bw.WriteString(gitPath(stream))
				bw.WriteByte('\n')
				state = stateFile(state[:0], a)
				writeData(bw, state)
			}
			bw.WriteString("\ncheckpoint\n\n")
		}
	})
	if err != nil {
		return Measure{}, err
	}
	return Measure{Seconds: p.seconds, Events: n, MaxRSS: p.maxRSS, Answer: Answer{Written: n},
		Note: fmt.Sprintf("fast-import, one commit per %d events, `checkpoint` after each", size)}, nil
}

// AppendEach appends git's sample of further events to the loaded
// repository, one durable commit each, with the plumbing a program would
// use: hash-object, update-index, write-tree, commit-tree, update-ref.
func (s gitSystem) AppendEach(ctx context.Context, _, loaded string, w *Workload) (Measure, error) {
	if w.Sample == 0 {
		return Measure{Note: "skipped (-git-sample 0)"}, nil
	}
	index := filepath.Join(loaded, "bench-index")
	env := []string{"GIT_INDEX_FILE=" + index}
	if _, err := run(ctx, cmdSpec{dir: loaded, env: env, name: "git", args: []string{"read-tree", "main"}}); err != nil {
		return Measure{}, err
	}
	head, err := s.git(ctx, loaded, nil, "rev-parse", "main")
	if err != nil {
		return Measure{}, err
	}
	parent := strings.TrimSpace(string(head.stdout))
	g := bankgen.New(bankgen.Config{Seed: w.Cfg.Seed, Events: w.Cfg.Events + w.Sample, Accounts: w.Cfg.Accounts})
	r := bankgen.NewReplayer()
	var total float64
	var peak int64
	mem := false // measured on the last event only, to keep the wrapper out of the time
	step := func(stdin []byte, extra []string, args ...string) (string, error) {
		var in io.Reader
		if stdin != nil {
			in = bytes.NewReader(stdin)
		}
		p, err := run(ctx, cmdSpec{dir: loaded, env: append(env, extra...), stdin: in, name: "git", args: args, mem: mem})
		total += p.seconds
		peak = max(peak, p.maxRSS)
		return strings.TrimSpace(string(p.stdout)), err
	}
	i := 0
	for e := range g.All() {
		if err := r.Apply(e); err != nil {
			return Measure{}, err
		}
		if i++; i <= w.Cfg.Events {
			continue
		}
		mem = i == w.Cfg.Events+w.Sample
		a, _ := r.Get(e.Stream)
		blob, err := step(stateFile(nil, a), nil, "hash-object", "-w", "--stdin")
		if err != nil {
			return Measure{}, err
		}
		if _, err := step(nil, nil, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+gitPath(e.Stream)); err != nil {
			return Measure{}, err
		}
		tree, err := step(nil, nil, "write-tree")
		if err != nil {
			return Measure{}, err
		}
		date := "GIT_COMMITTER_DATE=" + strconv.FormatInt(e.Time.Unix(), 10) + " +0000"
		line := e.AppendNDJSON(nil)
		commit, err := step(line, []string{date, "GIT_AUTHOR_NAME=" + e.Actor, "GIT_COMMITTER_NAME=" + e.Actor}, "commit-tree", tree, "-p", parent)
		if err != nil {
			return Measure{}, err
		}
		if _, err := step(nil, nil, "update-ref", "refs/heads/main", commit, parent); err != nil {
			return Measure{}, err
		}
		parent = commit
	}
	return Measure{Seconds: total, Events: w.Sample, MaxRSS: peak, Answer: Answer{Written: w.Sample},
		Note: fmt.Sprintf("extrapolated from %d events appended after the loaded history: hash-object, update-index, write-tree, commit-tree, update-ref each", w.Sample)}, nil
}
