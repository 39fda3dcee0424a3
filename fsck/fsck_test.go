package fsck_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// buildRepository makes a bare repository in dir the way users do, through
// the library: a model, imported banking events in batches (frames large
// enough to be compressed), single appends with idempotency keys, a
// commit that reverts another, branches and tags created and deleted. Each
// round ends with a store-level transaction with a tiny seal threshold
// that records a snapshot (trees, a state blob) and seals the segment, so
// the repository has sealed segments, merged indexes and the newest
// segment with its preallocated tail. With gcAfter > 0, gc runs after
// that many rounds, so a pack replaces the early segments and later rounds
// seal segments after it.
func buildRepository(tb testing.TB, dir string, rounds, gcAfter int) string {
	tb.Helper()
	ctx := context.Background()
	r, _, err := evgit.Init(ctx, dir, evgit.InitOptions{Bare: true})
	require.NoError(tb, err)
	gitDir := r.GitDir()
	modelID, err := r.SetModel(ctx, []byte(bankgen.Model), "builder")
	require.NoError(tb, err)
	var buf bytes.Buffer
	require.NoError(tb, bankgen.Write(&buf, bankgen.Config{Seed: 7, Events: rounds * 60, Accounts: 30}))
	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var first object.ID
	for round := range rounds {
		if round > 0 {
			r, err = evgit.Open(ctx, gitDir)
			require.NoError(tb, err)
		}
		if round > 0 && round == gcAfter {
			_, err = r.GC(ctx, evgit.GCOptions{Prune: "now"})
			require.NoError(tb, err)
		}
		chunk := bytes.Join(lines[round*60:(round+1)*60], nil)
		_, err = r.Import(ctx, bytes.NewReader(chunk), evgit.ImportOptions{Batch: 3, Actor: "importer"})
		require.NoError(tb, err)
		at = at.Add(time.Hour)
		res, err := r.Append(ctx, []evgit.EventInput{
			{Stream: fmt.Sprintf("notes/n%d", round), Type: "Noted", Data: json.RawMessage(fmt.Sprintf(`{"round":%d,"text":"a note long enough to need a blob of its own in a snapshot"}`, round))},
			{Stream: "notes/all", Type: "Noted", Data: json.RawMessage(fmt.Sprintf(`{"last":%d}`, round))},
		}, evgit.AppendOptions{Actor: "ann", Message: fmt.Sprintf("note %d", round), IdempotencyKey: fmt.Sprintf("note-%d", round), Time: at})
		require.NoError(tb, err)
		if round == 0 {
			first = res.Commit
		}
		switch round % 4 {
		case 1:
			_, err = r.CreateBranch(ctx, fmt.Sprintf("topic-%d", round), "HEAD~2", "ann")
			require.NoError(tb, err)
			_, err = r.Append(ctx, []evgit.EventInput{{Stream: "notes/topic", Type: "Noted", Data: json.RawMessage(`{"on":"topic"}`)}},
				evgit.AppendOptions{Branch: fmt.Sprintf("topic-%d", round), Actor: "bob", Message: "on a topic"})
			require.NoError(tb, err)
		case 2:
			_, err = r.Append(ctx, []evgit.EventInput{{Stream: fmt.Sprintf("notes/n%d", round-2), Type: "Noted", Data: json.RawMessage(`{"round":null}`)}},
				evgit.AppendOptions{Actor: "ann", Message: "revert a note", Reverts: []object.ID{first}})
			require.NoError(tb, err)
		case 3:
			_, err = r.CreateBranch(ctx, "scratch", "", "ann")
			require.NoError(tb, err)
			_, err = r.DeleteBranch(ctx, "scratch", "ann")
			require.NoError(tb, err)
		}
		_, err = r.CreateTag(ctx, fmt.Sprintf("r%d", round), "", "ann")
		require.NoError(tb, err)
		require.NoError(tb, r.Close())

		st, err := store.Open(gitDir, store.Options{})
		require.NoError(tb, err)
		head, _, ok := st.Resolve("HEAD")
		require.True(tb, ok)
		require.NoError(tb, st.Update(ctx, func(tx *store.Tx) error {
			tx.PutSnapshot(head, modelID, putSnapshot(tx, round))
			return nil
		}))
		require.NoError(tb, st.Close())
		// Seal on a frame of records only, so that a sealed segment ends
		// in one: losing it loses no object.
		st, err = store.Open(gitDir, store.Options{SealObjects: 1})
		require.NoError(tb, err)
		require.NoError(tb, st.Update(ctx, func(tx *store.Tx) error {
			return tx.UpdateRef(refs.Update{Name: fmt.Sprintf("refs/tags/sealed-%d", round), New: head, Time: at, Actor: "sealer", Message: "seal"})
		}))
		require.NoError(tb, st.Close())
	}
	// The newest segment: a few frames and its preallocated tail.
	r, err = evgit.Open(ctx, gitDir)
	require.NoError(tb, err)
	for i := range 4 {
		_, err = r.Append(ctx, []evgit.EventInput{{Stream: "notes/tail", Type: "Noted", Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}},
			evgit.AppendOptions{Actor: "ann", Message: "tail"})
		require.NoError(tb, err)
	}
	_, err = r.CreateTag(ctx, "tail", "", "ann")
	require.NoError(tb, err)
	require.NoError(tb, r.Close())
	return gitDir
}

// putSnapshot writes a snapshot tree of two leaves under an inner node
// (40 streams: more than a leaf holds), one state large enough for a blob.
func putSnapshot(tx *store.Tx, round int) object.ID {
	var inner object.Tree
	for c, base := range []int{0, 20} {
		leaf := object.Tree{Leaf: true}
		for i := range 20 {
			state := []byte(fmt.Sprintf(`{"n":%d}`, base+i))
			e := object.TreeEntry{Stream: fmt.Sprintf("s/%02d", base+i), Version: uint64(round + 1), State: state, StateID: object.Hash(object.KindBlob, state)}
			if i == 0 {
				big := []byte(fmt.Sprintf(`{"note":"a state longer than forty-eight bytes, kept as a blob","round":%d}`, round))
				e.State, e.StateID = nil, tx.PutObject(object.KindBlob, big)
			}
			leaf.Entries = append(leaf.Entries, e)
		}
		inner.Children[c*5] = tx.PutTree(&leaf)
	}
	inner.Count = 40
	return tx.PutTree(&inner)
}

// pristine holds the repositories built once per test binary, by gc,
// each in a temporary folder of its own that TestMain removes.
var pristine = map[bool]string{}

func repository(t *testing.T, gc bool) string {
	t.Helper()
	if dir, ok := pristine[gc]; ok {
		return dir
	}
	tmp, err := os.MkdirTemp("", "evgit-fsck-*")
	require.NoError(t, err)
	gcAfter := 0
	if gc {
		gcAfter = 6
	}
	pristine[gc] = buildRepository(t, filepath.Join(tmp, "repo"), 10, gcAfter)
	return pristine[gc]
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, gitDir := range pristine {
		// gitDir is <tmp>/repo: remove the folder MkdirTemp made, and
		// nothing above it.
		if tmp := filepath.Dir(gitDir); strings.HasPrefix(filepath.Base(tmp), "evgit-fsck-") {
			os.RemoveAll(tmp)
		}
	}
	os.Exit(code)
}

// copyRepository copies a repository folder (flat: format, lock, bare,
// log/...) to a new temporary folder.
func copyRepository(t testing.TB, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "repo")
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
	return to
}

func runFsck(t testing.TB, gitDir string) *fsck.Report {
	t.Helper()
	st, err := store.Open(gitDir, store.Options{})
	require.NoError(t, err)
	defer st.Close()
	rep, err := fsck.Run(context.Background(), st, fsck.Options{})
	require.NoError(t, err)
	return rep
}

func TestCleanRepositories(t *testing.T) {
	for _, gc := range []bool{false, true} {
		t.Run(fmt.Sprintf("gc=%v", gc), func(t *testing.T) {
			gitDir := repository(t, gc)
			rep := runFsck(t, gitDir)
			assert.True(t, rep.OK, "%v", rep.Problems)
			assert.Empty(t, rep.Problems)
			n := rep.Checked
			assert.Equal(t, rep.Objects, n.Commits+n.Events+n.Trees+n.Blobs)
			assert.Greater(t, n.Commits, 200)
			assert.Greater(t, n.Trees, 8)
			assert.Greater(t, n.ReflogEntries, 30)
			assert.Greater(t, n.Records, 50)
			files, err := os.ReadDir(filepath.Join(gitDir, "log"))
			require.NoError(t, err)
			var names []string
			for _, f := range files {
				names = append(names, f.Name())
			}
			all := strings.Join(names, " ")
			assert.Contains(t, all, ".idx", "sealed segments have indexes")
			if gc {
				assert.Contains(t, all, ".pack")
			}
		})
	}
}

// damage is a repository made wrong on purpose, and what fsck must say.
type damage struct {
	name    string
	apply   func(t *testing.T, s *store.Store, base object.ID) // base: the head of main
	kind    string                                             // the problem's kind; "" for any
	named   func(base object.ID) string                        // the problem's name, "" for any
	message string                                             // a part of its message
}

// initStore makes a repository's folder in a temporary directory and
// opens it, to be closed when the test ends (a second Close is
// harmless); it returns the store and its folder.
func initStore(t *testing.T, opts store.Options) (*store.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".evgit")
	_, err := store.Init(nil, dir, "main")
	require.NoError(t, err)
	s, err := store.Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// writeTx runs a transaction that must succeed.
func writeTx(t *testing.T, s *store.Store, fn func(tx *store.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), fn))
}

// commitOn writes a commit on main with the given changes to a
// well-formed one, and returns its ID.
func commitOn(t *testing.T, s *store.Store, base object.ID, edit func(tx *store.Tx, c *object.Commit)) object.ID {
	t.Helper()
	var id object.ID
	writeTx(t, s, func(tx *store.Tx) error {
		parent := &object.Commit{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		var parents []object.ID
		if !base.IsZero() {
			kind, body, _, err := tx.Get(base)
			require.NoError(t, err)
			require.Equal(t, object.KindCommit, kind)
			parent, err = object.DecodeCommit(body)
			require.NoError(t, err)
			parents = []object.ID{base}
		}
		ev := object.NewEvent("acc-1", "Noted", 1, map[string]string{"n": fmt.Sprint(parent.Offset)}, []byte(`{"a":1}`))
		c := &object.Commit{Parents: parents, Events: []object.ID{tx.PutEvent(ev)}, Time: parent.Time.Add(time.Second), Offset: parent.Offset + 1, Actor: "t"}
		edit(tx, c)
		id = tx.PutCommit(c)
		return tx.UpdateRef(refs.Update{Name: "refs/heads/main", Old: base, New: id, Time: c.Time})
	})
	return id
}

var someID = object.Hash(object.KindBlob, []byte("not stored anywhere"))

func TestDamage(t *testing.T) {
	modelOf := func(tx *store.Tx) object.ID {
		id, _, _ := tx.Resolve(refs.Model)
		return id
	}
	tests := []damage{
		{
			name: "missing parent",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(_ *store.Tx, c *object.Commit) { c.Parents = append(c.Parents, someID) })
			},
			kind: "commit", message: "parent " + someID.String() + " is missing",
		},
		{
			name: "offset does not add up",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(_ *store.Tx, c *object.Commit) { c.Offset += 2 })
			},
			kind: "commit", message: "want",
		},
		{
			name: "time earlier than the first parent's",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(_ *store.Tx, c *object.Commit) { c.Time = c.Time.Add(-time.Hour) })
			},
			kind: "commit", message: "is earlier than first parent",
		},
		{
			name: "an event that is a blob",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
					c.Events = append(c.Events, tx.PutObject(object.KindBlob, []byte(`{}`)))
					c.Offset++
				})
			},
			kind: "commit", message: "is a blob, not an event",
		},
		{
			name: "reverted commit that is not a commit",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
					c.Reverts = []object.ID{tx.PutObject(object.KindBlob, []byte(`{}`))}
				})
			},
			kind: "commit", message: "reverted commit",
		},
		{
			name: "event data that does not match its ID",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
					ev := object.NewEvent("acc-1", "Noted", 1, nil, []byte(`{"a":1}`))
					ev.Data = []byte(`{"a":2}`)
					c.Events = []object.ID{tx.PutEvent(ev)}
				})
			},
			// The store's read checks the data too, so the object may be
			// reported as unreadable rather than as a bad event.
			kind: "", message: "does not match",
		},
		{
			name: "event data that is not canonical",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				commitOn(t, s, base, func(tx *store.Tx, c *object.Commit) {
					c.Events = []object.ID{tx.PutEvent(object.NewEvent("acc-1", "Noted", 1, nil, []byte(`{"b":1, "a":2}`)))}
				})
			},
			kind: "event", message: "not canonical JSON",
		},
		{
			name: "branch at a missing commit",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					return tx.UpdateRef(refs.Update{Name: "refs/heads/lost", New: someID})
				})
			},
			kind: "ref", named: func(object.ID) string { return "refs/heads/lost" }, message: "commit " + someID.String() + " is missing",
		},
		{
			name: "tag at a blob",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					return tx.UpdateRef(refs.Update{Name: "refs/tags/blob", New: tx.PutObject(object.KindBlob, []byte("x"))})
				})
			},
			kind: "ref", named: func(object.ID) string { return "refs/tags/blob" }, message: "is a blob, not a commit",
		},
		{
			name: "a model that does not parse",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					old := modelOf(tx)
					return tx.UpdateRef(refs.Update{Name: refs.Model, Old: old, New: tx.PutObject(object.KindBlob, []byte("types: [1, 2"))})
				})
			},
			kind: "ref", named: func(object.ID) string { return refs.Model }, message: "is not a valid model",
		},
		{
			name: "HEAD on a tag",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					tx.SetSymbolic(refs.HEAD, "refs/tags/r0")
					return nil
				})
			},
			kind: "ref", named: func(object.ID) string { return refs.HEAD }, message: "not a branch",
		},
		{
			name: "snapshot of a missing tree",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					tx.PutSnapshot(base, modelOf(tx), someID)
					return nil
				})
			},
			kind: "snapshot", named: func(b object.ID) string { return b.String() }, message: "tree " + someID.String() + " is missing",
		},
		{
			name: "idempotency key of a missing commit",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					tx.PutIdempotency("refs/heads/main", "k", someID, someID)
					return nil
				})
			},
			kind: "idempotency", named: func(object.ID) string { return `refs/heads/main "k"` }, message: "commit " + someID.String() + " is missing",
		},
		{
			name: "import start key naming a missing first commit",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					tx.PutIdempotency("refs/heads/main", "\x00import-start\x00ab", base, someID)
					return nil
				})
			},
			kind: "idempotency", named: func(object.ID) string { return `refs/heads/main "\x00import-start\x00ab"` }, message: "commit " + someID.String() + " is missing",
		},
		{
			name: "inner tree that miscounts",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					inner := object.Tree{Count: 41}
					leaf := object.Tree{Leaf: true}
					for i := range 20 {
						leaf.Entries = append(leaf.Entries, object.TreeEntry{Stream: fmt.Sprintf("x/%02d", i), Version: 1, State: []byte("1"), StateID: object.Hash(object.KindBlob, []byte("1"))})
					}
					inner.Children[1] = tx.PutTree(&leaf)
					leaf.Entries[0].Stream = "x/000"
					inner.Children[2] = tx.PutTree(&leaf)
					tx.PutSnapshot(base, modelOf(tx), tx.PutTree(&inner))
					return nil
				})
			},
			kind: "tree", message: "counts 41 streams, its children hold 40",
		},
		{
			name: "small state kept as a blob",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					leaf := object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "a", Version: 1, StateID: tx.PutObject(object.KindBlob, []byte(`{"a":1}`))}}}
					tx.PutSnapshot(base, modelOf(tx), tx.PutTree(&leaf))
					return nil
				})
			},
			kind: "tree", message: "at most 64 bytes belong inline",
		},
		{
			name: "a commit not in canonical encoding",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				writeTx(t, s, func(tx *store.Tx) error {
					// An empty root commit whose parent count, 0, is
					// written in two bytes: it decodes, but one value
					// must have one encoding (and one ID).
					tx.PutObject(object.KindCommit, []byte{1, 0x80, 0x00, 0, 0, 0, 0, 0, 0, 0})
					return nil
				})
			},
			kind: "commit", message: "is not in canonical encoding",
		},
		{
			name: "reflog entries that do not chain",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				// A ref move whose old value is not where the ref was:
				// only a damaged log can hold one, so write the frame by hand.
				var p pack.Payload
				u := refs.Update{Name: "refs/heads/main", Old: someID, New: base, Time: time.Unix(1, 0)}
				p.AddRecord(store.RecRef, []byte(u.Name), u.Encode())
				appendFrame(t, s.Dir(), p.Bytes())
			},
			kind: "reflog", named: func(object.ID) string { return "refs/heads/main@{0}" }, message: "but the entry before left it at",
		},
		{
			// Named apart from HEAD@{N}, HEAD's own reflog: a helper's
			// audit found both listed as HEAD@{0}.
			name: "a detached HEAD's move record naming nothing",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				var p pack.Payload
				u := refs.Update{Name: refs.HEAD, Old: base, New: someID, Time: time.Unix(1, 0)}
				p.AddRecord(store.RecRef, []byte(u.Name), u.Encode())
				appendFrame(t, s.Dir(), p.Bytes())
			},
			kind: "reflog", named: func(object.ID) string { return "HEAD's move record 0" }, message: "is missing",
		},
		{
			name: "kept object's time that is not a varint",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				var p pack.Payload
				p.AddRecord(store.RecKept, base[:], []byte{0x80})
				appendFrame(t, s.Dir(), p.Bytes())
			},
			kind: fsck.KindKept, message: "value is not one varint",
		},
		{
			name: "kept object that is missing",
			apply: func(t *testing.T, s *store.Store, base object.ID) {
				var p pack.Payload
				p.AddRecord(store.RecKept, someID[:], []byte{2})
				appendFrame(t, s.Dir(), p.Bytes())
			},
			kind: fsck.KindKept, message: "is missing",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, dir := initStore(t, store.Options{SealObjects: 8})
			base := commitOn(t, s, object.ZeroID, func(_ *store.Tx, c *object.Commit) {})
			writeTx(t, s, func(tx *store.Tx) error {
				src := []byte(bankgen.Model)
				return tx.UpdateRef(refs.Update{Name: refs.Model, New: tx.PutObject(object.KindBlob, src)})
			})
			for range 5 {
				base = commitOn(t, s, base, func(_ *store.Tx, c *object.Commit) {})
			}
			rep, err := fsck.Run(context.Background(), s, fsck.Options{})
			require.NoError(t, err)
			require.True(t, rep.OK, "before the damage: %v", rep.Problems)
			tt.apply(t, s, base)
			require.NoError(t, s.Close())

			s, err = store.Open(dir, store.Options{SealObjects: 8})
			require.NoError(t, err)
			defer s.Close()
			rep, err = fsck.Run(context.Background(), s, fsck.Options{})
			require.NoError(t, err)
			assert.False(t, rep.OK)
			found := false
			for _, p := range rep.Problems {
				if (tt.kind == "" || p.Kind == tt.kind) && strings.Contains(p.Message, tt.message) && (tt.named == nil || p.Name == tt.named(base)) {
					found = true
				}
			}
			assert.True(t, found, "want a %s problem saying %q; got %v", tt.kind, tt.message, rep.Problems)
		})
	}
}

// appendFrame appends a frame to the newest segment of a closed or idle
// repository, as a writer would.
func appendFrame(t *testing.T, gitDir string, payload []byte) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(gitDir, "log"))
	require.NoError(t, err)
	var last string
	var num uint32
	for _, e := range ents {
		var n uint32
		if _, err := fmt.Sscanf(e.Name(), "%08d.seg", &n); err == nil && n >= num {
			last, num = e.Name(), n
		}
	}
	seg, err := pack.OpenSegment(pack.OS, filepath.Join(gitDir, "log", last), num, true)
	require.NoError(t, err)
	defer seg.Close()
	_, err = seg.Scan(0, true, func(int64, []byte) error { return nil })
	require.NoError(t, err)
	_, err = seg.Append(pack.AppendFrame(nil, payload, false))
	require.NoError(t, err)
	require.NoError(t, seg.Sync())
}

func TestProblemString(t *testing.T) {
	p := fsck.Problem{Kind: "object", Name: "ab", File: "00000002.seg", Offset: 120, Message: "frame checksum mismatch"}
	assert.Equal(t, "object ab: frame checksum mismatch (00000002.seg at 120)", p.String())
	p = fsck.Problem{Kind: "index", Name: "00000001-00000004.idx", File: "00000001-00000004.idx", Message: "checksum mismatch"}
	assert.Equal(t, "index 00000001-00000004.idx: checksum mismatch", p.String())
}

func TestReportJSON(t *testing.T) {
	b, err := json.Marshal(&fsck.Report{OK: true, Objects: 3, Problems: []fsck.Problem{}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"ok":true,"objects":3,"problems":[]}`, string(b))
}

func TestCancelled(t *testing.T) {
	st, err := store.Open(copyRepository(t, repository(t, false)), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = fsck.Run(ctx, st, fsck.Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

// TestWritesAfterTheViewAreNotProblems: fsck checks the log against the
// store's view of it; what another process appends meanwhile (here, a
// commit with an idempotency key and a snapshot) names objects the view
// does not hold yet, and is left for the next fsck, not reported missing.
func TestWritesAfterTheViewAreNotProblems(t *testing.T) {
	ctx := context.Background()
	dir := copyRepository(t, repository(t, false))
	st, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer st.Close()

	other, err := evgit.Open(ctx, dir)
	require.NoError(t, err)
	var batch []evgit.EventInput
	for i := range 300 {
		batch = append(batch, evgit.EventInput{Stream: fmt.Sprintf("note-%03d", i), Type: "Noted", Data: []byte(`{"n":1}`)})
	}
	_, err = other.Append(ctx, batch, evgit.AppendOptions{IdempotencyKey: "late"})
	require.NoError(t, err)
	require.NoError(t, other.Close()) // records the snapshot the append left building

	rep, err := fsck.Run(ctx, st, fsck.Options{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)

	again, err := store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer again.Close()
	rep, err = fsck.Run(ctx, again, fsck.Options{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)
}

// Deleting the newest segment whole leaves a log that reads as an older
// one; but a seal starts the next segment before it writes the index, so
// an indexed newest segment says that a segment after it is gone.
func TestMissingNewestSegment(t *testing.T) {
	gitDir := copyRepository(t, repository(t, false))
	segs, err := filepath.Glob(filepath.Join(gitDir, "log", "*.seg"))
	require.NoError(t, err)
	slices.Sort(segs)
	require.NoError(t, os.Remove(segs[len(segs)-1]))
	// Too damaged to open: every command, fsck too, says so.
	_, err = store.Open(gitDir, store.Options{})
	require.ErrorIs(t, err, store.ErrCorrupt)
	assert.ErrorContains(t, err, "is missing: the commits it held are lost")
}

// TestKeptObjectsAreClean: the time gc records for an unreachable object
// it keeps (still in its grace) passes fsck.
func TestKeptObjectsAreClean(t *testing.T) {
	ctx := context.Background()
	s, _ := initStore(t, store.Options{})
	commitOn(t, s, object.ZeroID, func(_ *store.Tx, c *object.Commit) {})
	var orphan object.ID
	writeTx(t, s, func(tx *store.Tx) error {
		orphan = tx.PutObject(object.KindBlob, []byte("orphan"))
		return nil
	})
	_, err := s.GC(ctx, store.GCOptions{Grace: time.Hour})
	require.NoError(t, err)
	require.True(t, s.Has(orphan), "gc kept the orphan, with its time")
	rep, err := fsck.Run(ctx, s, fsck.Options{})
	require.NoError(t, err)
	assert.True(t, rep.OK, "%v", rep.Problems)
}

// TestTreesAreReadOnce: a snapshot's inner nodes link to nodes of every
// earlier snapshot, all over the log. Their counts are remembered, not
// read again from the store once the bounded memory of recent objects
// let go of them: with 200 snapshots of 200,000 streams that made fsck
// decode frames again and again, for minutes.
func TestTreesAreReadOnce(t *testing.T) {
	ctx := context.Background()
	r, _, err := evgit.Init(ctx, t.TempDir(), evgit.InitOptions{})
	require.NoError(t, err)
	_, err = r.SetModel(ctx, []byte("snapshot_every: 1\n"), "test")
	require.NoError(t, err)
	for c := range 30 {
		var batch []evgit.EventInput
		for i := range 40 {
			batch = append(batch, evgit.EventInput{Stream: fmt.Sprintf("s-%d", (c*17+i*13)%300), Type: "Set", Data: json.RawMessage(fmt.Sprintf(`{"c":%d}`, c))})
		}
		_, err := r.Append(ctx, batch, evgit.AppendOptions{Actor: "test"})
		require.NoError(t, err)
	}
	gitDir := r.GitDir()
	require.NoError(t, r.Close())
	reads := 0
	defer fsck.WatchTreeReads(8, &reads)()
	rep := runFsck(t, gitDir)
	assert.Empty(t, rep.Problems)
	assert.Greater(t, rep.Checked.Trees, 100)
	assert.Zero(t, reads, "tree nodes read again")
}
