package evgit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// SPEC §5: several goroutines and several processes append to one
// repository at once; each commit lands whole or fails with ErrConflict,
// none is lost or torn. The multi-process tests run the evgit binary,
// built once per test run.

var (
	binDir  string
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// evgitBinary builds cmd/evgit once and returns its path.
func evgitBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the evgit binary; skipped with -short")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "evgit-bin-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "evgit")
		out, err := exec.Command("go", "build", "-o", binPath, "./cmd/evgit").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build ./cmd/evgit: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return binPath
}

// cliResult is one run of the binary.
type cliResult struct {
	code           int
	stdout, stderr string
}

// evgitRun runs the binary in dir and returns its exit code and output;
// only a failure to run it at all fails the test.
func evgitRun(t *testing.T, dir string, args ...string) cliResult {
	cmd := exec.Command(evgitBinary(t), append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "EVGIT_ACTOR=tester")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := cliResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		res.code = exitErr.ExitCode()
	default:
		t.Errorf("evgit %s: %v", strings.Join(args, " "), err)
		res.code = -1
	}
	return res
}

// logJSON reads the whole history through `evgit log --json`.
func logJSON(t *testing.T, dir string) []CommitInfo {
	t.Helper()
	res := evgitRun(t, dir, "log", "--json")
	require.Equal(t, 0, res.code, res.stderr)
	var out []CommitInfo
	sc := bufio.NewScanner(strings.NewReader(res.stdout))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var c CommitInfo
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		out = append(out, c)
	}
	require.NoError(t, sc.Err())
	return out
}

// initDir creates an empty repository and returns its work tree.
func initDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r, _, err := Init(context.Background(), dir, InitOptions{})
	require.NoError(t, err)
	require.NoError(t, r.Close())
	return dir
}

// TestProcessesAppendNoneLost: 4 processes × 150 commits on one branch,
// each process to its own stream, no expectations. Every commit must
// land, each stream's versions must be dense, and the repository must
// reopen cleanly.
func TestProcessesAppendNoneLost(t *testing.T) {
	const procs, commits = 4, 150
	dir := initDir(t)
	evgitBinary(t)
	ids := make([][]string, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			for i := 1; i <= commits; i++ {
				res := evgitRun(t, dir, "commit", "--json", "-m", fmt.Sprintf("p%d n%d", p, i),
					fmt.Sprintf("proc-%d", p), "Counted", fmt.Sprintf(`{"n":%d}`, i))
				if res.code != 0 {
					t.Errorf("process %d commit %d: exit %d: %s", p, i, res.code, res.stderr)
					return
				}
				var out AppendResult
				if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
					t.Errorf("process %d commit %d: %v: %q", p, i, err, res.stdout)
					return
				}
				ids[p] = append(ids[p], out.Commit.String())
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())

	log := logJSON(t, dir)
	require.Len(t, log, procs*commits, "every commit landed")
	seen := map[string]bool{}
	versions := map[string][]uint64{}
	for i, c := range log {
		seen[c.ID.String()] = true
		// One first-parent line: newest first, each commit on the next.
		assert.Equal(t, uint64(len(log)-i), c.Offset)
		if i+1 < len(log) {
			assert.Equal(t, []object.ID{log[i+1].ID}, c.Parents)
		}
		require.Len(t, c.Events, 1)
		e := c.Events[0]
		versions[e.Stream] = append(versions[e.Stream], e.Version)
		// Each process wrote n = 1, 2, ...: its stream's version is n.
		assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, e.Version), string(e.Data), "%s version %d", e.Stream, e.Version)
	}
	assert.Len(t, seen, procs*commits, "no duplicate commits")
	for p := range procs {
		for _, id := range ids[p] {
			assert.True(t, seen[id], "commit %s of process %d is in the log", id, p)
		}
		v := versions[fmt.Sprintf("proc-%d", p)]
		slices.Sort(v)
		want := make([]uint64, commits)
		for i := range want {
			want[i] = uint64(i + 1)
		}
		assert.Equal(t, want, v, "proc-%d versions dense 1..%d", p, commits)
	}

	// Reopen: every commit and event reads back, every stream folds.
	ctx := context.Background()
	r, err := Open(ctx, filepath.Join(dir, DirName))
	require.NoError(t, err)
	defer r.Close()
	assert.Zero(t, r.TornBytes())
	n := 0
	for c, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		info, err := r.Show(ctx, c.ID.String())
		require.NoError(t, err)
		require.Len(t, info.Events, 1)
		n++
	}
	assert.Equal(t, procs*commits, n)
	head := headOf(t, r)
	for p := range procs {
		st, err := r.StreamAt(context.Background(), head, fmt.Sprintf("proc-%d", p))
		require.NoError(t, err)
		assert.Equal(t, uint64(commits), st.Version)
		assert.JSONEq(t, fmt.Sprintf(`{"n":%d}`, commits), string(st.State))
	}
}

var expectErrRE = regexp.MustCompile(`stream (\S+) is at version (\d+), expected (\d+)`)

// TestProcessesRaceExpect: 3 processes append to one stream with
// --expect. Every success raises the version by exactly one, every
// failure is exit 3, and the history has no gap and no duplicate.
func TestProcessesRaceExpect(t *testing.T) {
	const procs, attempts = 3, 40
	dir := initDir(t)
	evgitBinary(t)
	type success struct {
		commit string
		expect uint64
	}
	var (
		mu        sync.Mutex
		successes []success
		conflicts atomic.Int64
	)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			var v uint64 // what this process believes the version is
			for i := range attempts {
				res := evgitRun(t, dir, "commit", "--json", "--expect", fmt.Sprintf("s=%d", v),
					"s", "Incremented", fmt.Sprintf(`{"by":%d,"try":%d,"expect":%d}`, p, i, v))
				switch res.code {
				case 0:
					var out AppendResult
					if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
						t.Errorf("process %d: %v", p, err)
						return
					}
					mu.Lock()
					successes = append(successes, success{out.Commit.String(), v})
					mu.Unlock()
					v++
				case 3:
					conflicts.Add(1)
					m := expectErrRE.FindStringSubmatch(res.stderr)
					if m == nil || m[1] != "s" || m[3] != strconv.FormatUint(v, 10) {
						t.Errorf("process %d: exit 3 with %q", p, res.stderr)
						return
					}
					found, _ := strconv.ParseUint(m[2], 10, 64)
					if found <= v {
						t.Errorf("process %d: conflict at version %d while expecting %d: the version went back", p, found, v)
					}
					v = found
				default:
					t.Errorf("process %d: exit %d (want 0 or 3): %s", p, res.code, res.stderr)
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	t.Logf("%d successes, %d conflicts", len(successes), conflicts.Load())
	assert.Positive(t, conflicts.Load(), "the processes raced")

	log := logJSON(t, dir)
	require.Len(t, log, len(successes), "one commit per success, none for a conflict")
	byCommit := map[string]EventInfo{}
	var versions []uint64
	for _, c := range log {
		require.Len(t, c.Events, 1)
		e := c.Events[0]
		byCommit[c.ID.String()] = e
		versions = append(versions, e.Version)
		var data struct{ Expect uint64 }
		require.NoError(t, json.Unmarshal(e.Data, &data))
		assert.Equal(t, data.Expect+1, e.Version, "the event was written at the version its writer expected, plus one")
	}
	slices.Sort(versions)
	for i, v := range versions {
		require.Equal(t, uint64(i+1), v, "versions dense: no gap, no duplicate")
	}
	for _, s := range successes {
		e, ok := byCommit[s.commit]
		if assert.True(t, ok, "success %s is in the log", s.commit) {
			assert.Equal(t, s.expect+1, e.Version)
		}
	}
}

// TestGoroutinesRaceExpect is the same race between goroutines, through
// one handle (group commit) and through separate handles (the flock, as
// between processes).
func TestGoroutinesRaceExpect(t *testing.T) {
	for _, handles := range []int{1, 4} {
		t.Run(fmt.Sprintf("handles=%d", handles), func(t *testing.T) {
			ctx := context.Background()
			dir := initDir(t)
			repos := make([]*Repository, handles)
			for i := range repos {
				r, err := Open(ctx, filepath.Join(dir, DirName))
				require.NoError(t, err)
				defer r.Close()
				repos[i] = r
			}
			const writers, attempts = 8, 50
			var ok, conflicts atomic.Int64
			var wg sync.WaitGroup
			for w := range writers {
				r := repos[w%handles]
				wg.Go(func() {
					var v uint64
					for i := range attempts {
						_, err := r.Append(ctx, []EventInput{ev("s", "Incremented", fmt.Sprintf(`{"by":%d,"try":%d,"expect":%d}`, w, i, v))},
							AppendOptions{Expect: map[string]uint64{"s": v}})
						var ee *ExpectError
						switch {
						case err == nil:
							ok.Add(1)
							v++
						case errors.As(err, &ee):
							if !errors.Is(err, ErrConflict) || ee.Found <= v {
								t.Errorf("writer %d: %v", w, err)
								return
							}
							conflicts.Add(1)
							v = ee.Found
						default:
							t.Errorf("writer %d: %v", w, err)
							return
						}
					}
				})
			}
			wg.Wait()
			require.False(t, t.Failed())
			assert.Positive(t, conflicts.Load())
			r := repos[0]
			st, err := r.StreamAt(context.Background(), headOf(t, r), "s")
			require.NoError(t, err)
			assert.Equal(t, uint64(ok.Load()), st.Version)
			n := uint64(0)
			for c, err := range r.Log(ctx, LogOptions{Reverse: true, Versions: true}) {
				require.NoError(t, err)
				n++
				require.Len(t, c.Events, 1)
				assert.Equal(t, n, c.Events[0].Version)
				var data struct{ Expect uint64 }
				require.NoError(t, json.Unmarshal(c.Events[0].Data, &data))
				assert.Equal(t, n, data.Expect+1)
			}
			assert.Equal(t, uint64(ok.Load()), n)
		})
	}
}

// TestMovedBranchRetriesByItself: writers whose own expectations hold
// never fail, however often the branch moves under them; each commit is
// built on the head it finds.
func TestMovedBranchRetriesByItself(t *testing.T) {
	ctx := context.Background()
	dir := initDir(t)
	const writers, commits = 6, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			r, err := Open(ctx, filepath.Join(dir, DirName))
			if err != nil {
				t.Error(err)
				return
			}
			defer r.Close()
			stream := fmt.Sprintf("w-%d", w)
			for i := range commits {
				if _, err := r.Append(ctx, []EventInput{ev(stream, "E", fmt.Sprintf(`{"i":%d}`, i))},
					AppendOptions{Expect: map[string]uint64{stream: uint64(i)}}); err != nil {
					t.Errorf("writer %d commit %d: %v", w, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	r, err := Open(ctx, filepath.Join(dir, DirName))
	require.NoError(t, err)
	defer r.Close()
	n := 0
	for c, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		assert.LessOrEqual(t, len(c.Parents), 1)
		n++
	}
	assert.Equal(t, writers*commits, n)
	for w := range writers {
		st, err := r.StreamAt(context.Background(), headOf(t, r), fmt.Sprintf("w-%d", w))
		require.NoError(t, err)
		assert.Equal(t, uint64(commits), st.Version)
	}
}

// TestGroupCommitSharesSyncs: concurrent appends through one handle share
// fsyncs, and each still lands as a commit of its own.
func TestGroupCommitSharesSyncs(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	syncs0, commits0 := r.Store().SyncStats()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := r.Append(ctx, []EventInput{ev(fmt.Sprintf("g-%d", w), "E", fmt.Sprintf(`{"i":%d}`, i))}, AppendOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	syncs, commits := r.Store().SyncStats()
	syncs, commits = syncs-syncs0, commits-commits0
	t.Logf("%d commits, %d syncs", commits, syncs)
	assert.Equal(t, uint64(writers*each), commits)
	assert.Less(t, syncs, commits, "overlapping writers share syncs")
	n := 0
	for _, err := range r.Log(ctx, LogOptions{}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, writers*each, n)
}

// TestIdempotencyKeyDurable retries one idempotency key 100 times, from
// processes and handles at once, then after a restart, after the record
// moved from the newest segment into a sealed segment's index, and after
// gc: there is one commit.
func TestIdempotencyKeyDurable(t *testing.T) {
	ctx := context.Background()
	dir := initDir(t)
	gitDir := filepath.Join(dir, DirName)
	evgitBinary(t)
	event := []EventInput{ev("pay-1", "Paid", `{"amount":5}`)}
	opts := AppendOptions{IdempotencyKey: "pay-1", Message: "Pay", Actor: "bank"}

	var (
		mu      sync.Mutex
		commits = map[string]int{}
		fresh   atomic.Int64
	)
	record := func(id string, dup bool) {
		mu.Lock()
		commits[id]++
		mu.Unlock()
		if !dup {
			fresh.Add(1)
		}
	}
	var wg sync.WaitGroup
	// 4 processes × 10 retries and 4 goroutines × 15 retries on 2 handles
	// (so retries also meet in one group commit), all at once.
	handles := make([]*Repository, 2)
	for i := range handles {
		r, err := Open(ctx, gitDir)
		require.NoError(t, err)
		handles[i] = r
	}
	for p := range 4 {
		wg.Go(func() {
			for range 10 {
				res := evgitRun(t, dir, "commit", "--json", "-m", "Pay", "--actor", "bank", "--idempotency-key", "pay-1", "pay-1", "Paid", `{"amount":5}`)
				if res.code != 0 {
					t.Errorf("process %d: exit %d: %s", p, res.code, res.stderr)
					return
				}
				var out AppendResult
				if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
					t.Error(err)
					return
				}
				record(out.Commit.String(), out.Duplicate)
			}
		})
	}
	for h := range 4 {
		r := handles[h%2]
		wg.Go(func() {
			for range 15 {
				res, err := r.Append(ctx, event, opts)
				if err != nil {
					t.Errorf("handle %d: %v", h, err)
					return
				}
				record(res.Commit.String(), res.Duplicate)
			}
		})
	}
	wg.Wait()
	for _, r := range handles {
		require.NoError(t, r.Close())
	}
	require.False(t, t.Failed())
	require.Len(t, commits, 1, "every retry names the same commit")
	assert.Equal(t, int64(1), fresh.Load(), "exactly one retry wrote")
	var first object.ID
	for id, n := range commits {
		assert.Equal(t, 100, n)
		var err error
		first, err = object.ParseID(id)
		require.NoError(t, err)
	}

	retry := func(t *testing.T) {
		t.Helper()
		r, err := Open(ctx, gitDir) // a restart
		require.NoError(t, err)
		defer r.Close()
		res, err := r.Append(ctx, event, opts)
		require.NoError(t, err)
		assert.True(t, res.Duplicate)
		assert.Equal(t, first, res.Commit)
		_, err = r.Append(ctx, []EventInput{ev("pay-1", "Paid", `{"amount":6}`)}, opts)
		assert.ErrorIs(t, err, ErrConflict, "the key with other events")
		cli := evgitRun(t, dir, "commit", "--json", "--idempotency-key", "pay-1", "-m", "Pay", "--actor", "bank", "pay-1", "Paid", `{"amount":5}`)
		require.Equal(t, 0, cli.code, cli.stderr)
		assert.Contains(t, cli.stdout, `"commit":"`+first.String()+`"`)
		assert.Contains(t, cli.stdout, `"duplicate":true`)
		n := 0
		for c, err := range r.Log(ctx, LogOptions{Stream: "pay-1"}) {
			require.NoError(t, err)
			assert.Equal(t, first, c.ID)
			n++
		}
		assert.Equal(t, 1, n, "one commit holds the key's event")
	}
	t.Run("restart", retry)

	t.Run("sealed into an index", func(t *testing.T) {
		// Enough commits to seal the segment that holds the key's record
		// (65 536 objects); after a reopen that segment is not scanned,
		// so the key is found through the index or not at all.
		r, err := Open(ctx, gitDir)
		require.NoError(t, err)
		var b bytes.Buffer
		for i := range 33000 {
			fmt.Fprintf(&b, `{"stream":"bulk-%d","type":"Filled","data":{"i":%d}}`+"\n", i%100, i)
		}
		_, err = r.Import(ctx, &b, ImportOptions{Batch: 1})
		require.NoError(t, err)
		require.NoError(t, r.Close())
		idx, err := filepath.Glob(filepath.Join(gitDir, "log", "*.idx"))
		require.NoError(t, err)
		require.NotEmpty(t, idx, "a segment was sealed")
		retry(t)
	})

	t.Run("gc", func(t *testing.T) {
		res := evgitRun(t, dir, "gc", "--prune=now")
		require.Equal(t, 0, res.code, res.stderr)
		retry(t)
	})
}

// BenchmarkConcurrentAppend measures durable 1-event commits per second
// with 1, 2, 4 and 8 writer goroutines on one handle, and the fsyncs each
// commit costs (group commit: below 1 once writers overlap).
func BenchmarkConcurrentAppend(b *testing.B) {
	for _, writers := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			r, _, err := Init(ctx, b.TempDir(), InitOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			// Each iteration is one commit, taken by whichever writer is
			// free; b.Loop hands them out and the writers run them.
			work := make(chan int)
			var wg sync.WaitGroup
			var failed atomic.Pointer[error]
			for w := range writers {
				wg.Go(func() {
					for i := range work {
						_, err := r.Append(ctx, []EventInput{{Stream: fmt.Sprintf("w%d-acc-%d", w, i%100), Type: "MoneyDeposited", Data: json.RawMessage(`{"amount":1}`)}}, AppendOptions{Actor: "bench"})
						if err != nil {
							failed.Store(&err)
						}
					}
				})
			}
			syncs0, commits0 := r.Store().SyncStats()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				work <- i
				i++
			}
			close(work)
			wg.Wait()
			if err := failed.Load(); err != nil {
				b.Fatal(*err)
			}
			syncs, commits := r.Store().SyncStats()
			b.ReportMetric(float64(commits-commits0)/b.Elapsed().Seconds(), "commits/s")
			b.ReportMetric(float64(syncs-syncs0)/float64(commits-commits0), "fsyncs/commit")
		})
	}
}
