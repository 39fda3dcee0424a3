package evgit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// Environment of the child process of TestKillDuringAppends.
const (
	envCrashChild = "EVGIT_CRASH_CHILD" // the .evgit folder to append to
	envCrashSeed  = "EVGIT_CRASH_SEED"
	envCrashSeal  = "EVGIT_CRASH_SEAL" // store.Options.SealObjects
)

func longCrash() bool { return os.Getenv("EVGIT_LONG") == "1" }

// TestCrashChild is the child process of TestKillDuringAppends, not a
// test of its own: it appends commits through the library until it is
// killed, printing "ACK <commit>" only after the append returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashChild)
	if dir == "" {
		t.Skip("the child process of TestKillDuringAppends")
	}
	seed, _ := strconv.ParseUint(os.Getenv(envCrashSeed), 10, 64)
	seal, _ := strconv.Atoi(os.Getenv(envCrashSeal))
	if err := crashChild(dir, seed, seal); err != nil {
		fmt.Printf("ERR %v\n", strings.ReplaceAll(err.Error(), "\n", " | "))
		os.Exit(3)
	}
	os.Exit(0)
}

// openWithStore opens a repository on a store with the given options, so
// the child seals segments and merges indexes often.
func openWithStore(ctx context.Context, gitDir string, opts store.Options) (*Repository, error) {
	r, err := Open(ctx, gitDir)
	if err != nil {
		return nil, err
	}
	if opts == (store.Options{}) {
		return r, nil
	}
	r.st.Close()
	opts.BackgroundSeal = true
	if r.st, err = store.Open(r.gitDir, opts); err != nil {
		return nil, err
	}
	return r, nil
}

var crashStreams = []string{"acc-1", "acc-2", "acc-3"}

func crashChild(dir string, seed uint64, seal int) error {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	r, err := openWithStore(ctx, dir, store.Options{SealObjects: seal})
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	ack := func(what string, id object.ID) { fmt.Printf("ACK %s %s\n", id, what) }
	n := 0
	event := func(stream string) EventInput {
		n++
		return EventInput{Stream: stream, Type: "Deposited", Data: fmt.Appendf(nil, `{"run":%d,"n":%d,"pad":%q}`, seed, n, strings.Repeat("x", rng.IntN(200)))}
	}
	// The first append folds every stream (the cache is empty after a
	// restart); do it before READY so kills land among writes.
	var warm []EventInput
	for _, s := range crashStreams {
		warm = append(warm, event(s))
	}
	res, err := r.Append(ctx, warm, AppendOptions{Message: "warm", Actor: "child"})
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	ack("warm", res.Commit)
	fmt.Println("READY")
	for i := 0; i < 1_000_000; i++ {
		stream := crashStreams[rng.IntN(len(crashStreams))]
		switch p := rng.IntN(100); {
		case p < 70:
			res, err := r.Append(ctx, []EventInput{event(stream)}, AppendOptions{Actor: "child"})
			if err != nil {
				return fmt.Errorf("append: %w", err)
			}
			ack("one", res.Commit)
		case p < 75:
			// Many streams at a snapshot boundary: the commit builds its
			// tree on another goroutine, which compresses it there, and
			// the next commit records it (store.Piece).
			var evs []EventInput
			for k := range 70 + rng.IntN(130) {
				evs = append(evs, event(fmt.Sprintf("big-%d", (k*7+i)%400)))
			}
			res, err := r.Append(ctx, evs, AppendOptions{Actor: "child", Message: "big"})
			if err != nil {
				return fmt.Errorf("append: %w", err)
			}
			ack("big", res.Commit)
		case p < 85:
			var evs []EventInput
			for range 2 + rng.IntN(6) {
				evs = append(evs, event(crashStreams[rng.IntN(len(crashStreams))]))
			}
			opts := AppendOptions{Actor: "child", Message: "multi"}
			if rng.IntN(3) == 0 {
				opts.IdempotencyKey = fmt.Sprintf("k-%d-%d", seed, i)
			}
			res, err := r.Append(ctx, evs, opts)
			if err != nil {
				return fmt.Errorf("append: %w", err)
			}
			ack("multi", res.Commit)
		default:
			var b bytes.Buffer
			for range 3 + rng.IntN(30) {
				e := event(crashStreams[rng.IntN(len(crashStreams))])
				fmt.Fprintf(&b, `{"stream":%q,"type":%q,"data":%s}`+"\n", e.Stream, e.Type, e.Data)
			}
			res, err := r.Import(ctx, &b, ImportOptions{Batch: 1 + rng.IntN(3), Actor: "child"})
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			ack("import", res.Head)
		}
	}
	return r.Close()
}

// TestKillDuringAppends kills processes that append commits (one event,
// several events, import batches) with SIGKILL at random moments, and
// reopens the same repository each time, so torn tails are cut again and
// again: every commit a child acknowledged must be there and readable, in
// its order on HEAD's first-parent line, and a new commit must append.
// The children seal segments every few commits, so kills land in seals
// and index merges too; a third of the rounds run two children at once
// and kill them one after the other, so one dies while the other goes on
// appending. 30 rounds by default; EVGIT_LONG=1 runs 150. SIGKILL keeps
// what reached the page cache; power loss is simulated in store's crash
// tests.
func TestKillDuringAppends(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	rounds := 30
	if longCrash() {
		rounds = 150
	}
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(envCrashSeed); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (set %s to repeat)", seed, envCrashSeed)
	rng := rand.New(rand.NewPCG(seed, 1))
	r, _, err := Init(ctx, t.TempDir(), InitOptions{})
	require.NoError(t, err)
	gitDir := r.GitDir()
	require.NoError(t, r.Close())

	start := time.Now()
	// lanes[i] is what the i-th child of each round acknowledged, oldest
	// first; the parent's own commits go in lane 0, after its child's.
	lanes := make([][]object.ID, 2)
	var kills, torn, cuts, tears, line int
	fsckFindings := map[string]string{} // finding, IDs left out → the first seen
	for round := range rounds {
		n := 1
		if rng.IntN(3) == 0 {
			n = 2
		}
		acks, err := runAndKill(gitDir, seed+uint64(2*round)+1, n, rng)
		require.NoError(t, err, "round %d", round)
		for i, ids := range acks {
			lanes[i] = append(lanes[i], ids...)
		}
		kills += n
		// SIGKILL rarely tears a write (the page cache takes a pwrite
		// whole), so a third of the time leave what a write cut short
		// leaves: part of a frame after the last whole one.
		tore := false
		if rng.IntN(3) == 0 {
			tore, err = tearTail(gitDir, rng)
			require.NoError(t, err)
			if tore {
				tears++
			}
		}
		lineLen, tornBytes, err := verifyAfterKill(ctx, gitDir, lanes)
		require.NoError(t, err, "after round %d (seed %d); the log folder holds %s", round, seed, logListing(gitDir))
		// fsck's findings fail the test at the end, without stopping the
		// kills: a problem fsck has with every repository must not hide
		// what the kills would find.
		r, err := Open(ctx, gitDir)
		require.NoError(t, err)
		for _, f := range fsckIfPresent(ctx, r) {
			key := hexID.ReplaceAllString(f, "<id>")
			key = atOffset.ReplaceAllString(key, "<file> at <offset>")
			if _, seen := fsckFindings[key]; !seen {
				fsckFindings[key] = fmt.Sprintf("first after round %d: %s", round, f)
			}
		}
		// HEAD's snapshots against the fold (unless round 0's child died
		// before its first commit, which leaves the branch unborn).
		if _, _, born := r.st.Resolve("HEAD"); born {
			if _, err := r.VerifySnapshots(ctx, "HEAD"); err != nil {
				key := "snapshots: " + hexID.ReplaceAllString(err.Error(), "<id>")
				if _, seen := fsckFindings[key]; !seen {
					fsckFindings[key] = fmt.Sprintf("first after round %d: %v", round, err)
				}
			}
		}
		if tore {
			require.Positive(t, tornBytes, "after round %d: the torn frame is cut", round)
		}
		line = lineLen
		if tornBytes > 0 {
			cuts++
			torn += int(tornBytes)
		}
		// The parent's own commit, appended after the check, is
		// acknowledged too.
		res, err := r.Append(ctx, []EventInput{{Stream: "parent", Type: "Checked", Data: []byte(fmt.Sprintf(`{"round":%d}`, round))}}, AppendOptions{Actor: "parent"})
		require.NoError(t, err, "append after round %d", round)
		lanes[0] = append(lanes[0], res.Commit)
		require.NoError(t, r.Close())
	}
	t.Logf("%d rounds, %d processes killed, in %s: %d acknowledged commits, %d on HEAD's line; %d torn tails left, %d opens cut one (%d bytes)",
		rounds, kills, time.Since(start).Round(time.Millisecond), len(lanes[0])+len(lanes[1]), line, tears, cuts, torn)
	for _, f := range fsckFindings {
		t.Errorf("fsck: %s", f)
	}
}

// logListing lists the log folder's files with their sizes, for failure
// messages.
func logListing(gitDir string) string {
	ents, err := os.ReadDir(filepath.Join(gitDir, "log"))
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		if info, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s (%d) ", e.Name(), info.Size())
		}
	}
	return b.String()
}

// tearTail writes, after the last whole frame of the newest segment, a
// part of a frame: a prefix of a copy of the last frame (a header that
// parses, a payload cut short) or random bytes. It reports whether it
// wrote anything a reader must cut (some byte not zero).
func tearTail(gitDir string, rng *rand.Rand) (bool, error) {
	logDir := filepath.Join(gitDir, "log")
	ents, err := os.ReadDir(logDir)
	if err != nil {
		return false, err
	}
	var newest string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".seg") && e.Name() > newest {
			newest = e.Name()
		}
	}
	num, err := strconv.ParseUint(strings.TrimSuffix(newest, ".seg"), 10, 32)
	if err != nil {
		return false, err
	}
	path := filepath.Join(logDir, newest)
	seg, err := pack.OpenSegment(pack.OS, path, uint32(num), false)
	if err != nil {
		return false, err
	}
	last := int64(-1)
	_, err = seg.Scan(0, true, func(off int64, _ []byte) error {
		last = off
		return nil
	})
	end := seg.Size()
	seg.Close()
	if err != nil || last < 0 {
		return false, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var part []byte
	if rng.IntN(2) == 0 {
		frame := make([]byte, end-last)
		if _, err := f.ReadAt(frame, last); err != nil {
			return false, err
		}
		part = frame[:1+rng.IntN(len(frame)-1)]
	} else {
		part = make([]byte, 1+rng.IntN(300))
		for i := range part {
			part[i] = byte(rng.IntN(256))
		}
	}
	if _, err := f.WriteAt(part, end); err != nil {
		return false, err
	}
	return slices.ContainsFunc(part, func(b byte) bool { return b != 0 }), f.Close()
}

// crashProcess is a running child.
type crashProcess struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	lines  chan string
	got    []string
}

func startChild(gitDir string, seed uint64, seal int) (*crashProcess, error) {
	p := &crashProcess{cmd: exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1"), lines: make(chan string, 1024)}
	p.cmd.Env = append(os.Environ(), envCrashChild+"="+gitDir, fmt.Sprintf("%s=%d", envCrashSeed, seed), fmt.Sprintf("%s=%d", envCrashSeal, seal))
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	return p, nil
}

// waitReady reads the child's lines until it says it is appending.
func (p *crashProcess) waitReady() {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return // exited early; kill reports it
			}
			p.got = append(p.got, l)
			if l == "READY" {
				return
			}
		case <-timeout:
			return
		}
	}
}

// kill kills the child and returns the commits it acknowledged.
func (p *crashProcess) kill() ([]object.ID, error) {
	_ = p.cmd.Process.Kill()
	werr := p.cmd.Wait()
	for l := range p.lines {
		p.got = append(p.got, l)
	}
	var ids []object.ID
	for _, l := range p.got {
		switch {
		case strings.HasPrefix(l, "ACK "):
			id, err := object.ParseID(strings.Fields(l)[1])
			if err != nil {
				return nil, fmt.Errorf("child printed %q: %w", l, err)
			}
			ids = append(ids, id)
		case strings.HasPrefix(l, "ERR "):
			return nil, fmt.Errorf("child failed: %s\n%s", l, p.stderr.String())
		}
	}
	var ee *exec.ExitError
	if !errors.As(werr, &ee) || ee.ExitCode() != -1 {
		return nil, fmt.Errorf("child was not killed: %v\n%s\n%s", werr, strings.Join(p.got, "\n"), p.stderr.String())
	}
	return ids, nil
}

// runAndKill starts n children and kills them one after the other, each
// after a random 1–50 ms (mostly counted from when they are appending,
// sometimes from their start, so some kills land while a child opens and
// cuts a torn tail). It returns what each acknowledged.
func runAndKill(gitDir string, seed uint64, n int, rng *rand.Rand) ([][]object.ID, error) {
	procs := make([]*crashProcess, n)
	for i := range procs {
		p, err := startChild(gitDir, seed+uint64(i), []int{12, 40, 200}[rng.IntN(3)])
		if err != nil {
			return nil, err
		}
		procs[i] = p
	}
	if rng.IntN(10) > 0 {
		for _, p := range procs {
			p.waitReady()
		}
	}
	acks := make([][]object.ID, n)
	var firstErr error
	for i, p := range procs {
		time.Sleep(time.Duration(1+rng.IntN(50)) * time.Millisecond)
		ids, err := p.kill()
		if err != nil && firstErr == nil {
			firstErr = err
		}
		acks[i] = ids
	}
	return acks, firstErr
}

// verifyAfterKill opens the repository as a new process would and checks
// every acknowledged commit: each lane's must be on HEAD's first-parent
// line in order. It returns the length of the line and the bytes of torn
// tail opening cut.
func verifyAfterKill(ctx context.Context, gitDir string, lanes [][]object.ID) (int, int64, error) {
	r, err := Open(ctx, gitDir)
	if err != nil {
		return 0, 0, fmt.Errorf("open: %w", err)
	}
	defer r.Close()
	st := r.Store()
	head, target, ok := st.Resolve("HEAD")
	acked := 0
	for _, l := range lanes {
		acked += len(l)
	}
	// Before any commit was acknowledged (a child killed before its
	// first), the branch may not be born yet: HEAD still names it.
	if target != refs.HeadsPrefix+DefaultBranch || (!ok && acked > 0) {
		return 0, 0, fmt.Errorf("HEAD resolves to %s via %q (ok %v)", head.Short(), target, ok)
	}
	for l, acked := range lanes {
		for i, id := range acked {
			c, err := st.Commit(id)
			if err != nil {
				return 0, 0, fmt.Errorf("acknowledged commit %d of lane %d (%s): %w", i, l, id.Short(), err)
			}
			for _, e := range c.Events {
				if _, err := st.Event(e); err != nil {
					return 0, 0, fmt.Errorf("event %s of acknowledged commit %s: %w", e.Short(), id.Short(), err)
				}
			}
		}
	}
	var line []object.ID
	for id := head; !id.IsZero(); {
		c, err := st.Commit(id)
		if err != nil {
			return 0, 0, fmt.Errorf("commit %s on HEAD's line: %w", id.Short(), err)
		}
		line = append(line, id)
		id = c.Parent()
	}
	for l, acked := range lanes {
		j := len(acked) - 1
		for _, id := range line { // newest first
			if j >= 0 && id == acked[j] {
				j--
			}
		}
		if j >= 0 {
			return 0, 0, fmt.Errorf("acknowledged commit %d of lane %d (%s) is not on HEAD's first-parent line in order", j, l, acked[j].Short())
		}
	}
	log, err := st.Reflog(refs.HeadsPrefix + DefaultBranch)
	if err != nil {
		return 0, 0, err
	}
	for i := range log {
		if i+1 < len(log) && log[i].Old != log[i+1].New {
			return 0, 0, fmt.Errorf("reflog entries %d and %d do not link: %s, %s", i, i+1, log[i].Old.Short(), log[i+1].New.Short())
		}
	}
	if (len(log) == 0 && ok) || (len(log) > 0 && log[0].New != head) {
		return 0, 0, fmt.Errorf("reflog does not end at HEAD")
	}
	if probs, err := st.VerifyLog(ctx); err != nil || len(probs) > 0 {
		return 0, 0, fmt.Errorf("VerifyLog: %v %v", probs, err)
	}
	return len(line), r.TornBytes(), nil
}

// fsckIfPresent runs Repository.Fsck when the facade has one, passing
// ctx for a context and zero values for anything else, and returns what
// it found: its error, or each problem its report lists (a report with
// OK false, or a non-empty Problems, Errors, Missing, Corrupt or Broken).
// Reflection keeps this test compiling whatever shape Fsck settles on.
func fsckIfPresent(ctx context.Context, r *Repository) []string {
	m := reflect.ValueOf(r).MethodByName("Fsck")
	if !m.IsValid() {
		return nil
	}
	mt := m.Type()
	ctxType := reflect.TypeFor[context.Context]()
	args := make([]reflect.Value, mt.NumIn())
	for i := range args {
		if mt.In(i) == ctxType {
			args[i] = reflect.ValueOf(ctx)
		} else {
			args[i] = reflect.Zero(mt.In(i))
		}
	}
	var outs []reflect.Value
	if mt.IsVariadic() {
		outs = m.CallSlice(args)
	} else {
		outs = m.Call(args)
	}
	var found []string
	for _, out := range outs {
		if out.Type() == reflect.TypeFor[error]() {
			if !out.IsNil() {
				found = append(found, "error: "+out.Interface().(error).Error())
			}
			continue
		}
		found = append(found, reportedProblems(out)...)
	}
	return found
}

var (
	hexID    = regexp.MustCompile(`[0-9a-f]{64}`)
	atOffset = regexp.MustCompile(`[0-9]+\.(seg|idx|pack) at [0-9]+`)
)

// reportedProblems lists the problems a fsck report holds.
func reportedProblems(v reflect.Value) []string {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	var found []string
	switch v.Kind() {
	case reflect.Slice:
		for i := range v.Len() {
			found = append(found, fmt.Sprint(v.Index(i).Interface()))
		}
	case reflect.Struct:
		for _, name := range []string{"Problems", "Errors", "Missing", "Corrupt", "Broken"} {
			if f := v.FieldByName(name); f.IsValid() && f.Kind() == reflect.Slice {
				for i := range f.Len() {
					found = append(found, fmt.Sprint(f.Index(i).Interface()))
				}
			}
		}
		if f := v.FieldByName("OK"); len(found) == 0 && f.IsValid() && f.Kind() == reflect.Bool && !f.Bool() {
			found = append(found, fmt.Sprintf("not OK: %+v", v.Interface()))
		}
	}
	return found
}
