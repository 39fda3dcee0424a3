package evgit

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/internal/ordered"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// WorktreeIndexName is the file in the repository folder that records
// what checkout last wrote to the work tree.
const WorktreeIndexName = "worktree"

// WorktreeLockName is the file, in the repository folder, whose flock a
// checkout holds while it writes the work tree and its index: two
// checkouts of one work tree at once would interleave their files, and
// the second's index could vouch for a file the first wrote. The second
// waits.
const WorktreeLockName = "worktree.lock"

// CheckoutOptions configure Checkout.
type CheckoutOptions struct {
	// AsOf, when set, checks out the newest commit on the revision's
	// first-parent line whose time is at or before AsOf (HEAD detaches
	// there, unless Branch names a new branch to attach to).
	AsOf time.Time
	// Branch, when set, is created at the commit and HEAD attached to it
	// (checkout -b). It must not exist, and Streams must be empty (an
	// error matching ErrInvalid otherwise).
	Branch string
	// Streams, when not empty, writes only these streams' files, from
	// the revision, and leaves HEAD where it is (checkout REV --
	// STREAM...). Each must exist at the revision. An empty list is no
	// list: the whole checkout, which moves HEAD.
	Streams []string
	// Actor is recorded in the reflog.
	Actor string

	// movedOn, on Checkout's last try, attaches HEAD to a branch that
	// moved on past the commit written (other writers appended to it).
	movedOn bool
}

// CheckoutResult says what Checkout did; its JSON is `checkout --json`.
type CheckoutResult struct {
	// Commit is the commit checked out; the zero ID when -b only moved
	// HEAD to a new, unborn branch.
	Commit object.ID `json:"commit"`
	// Branch is the branch HEAD is attached to after a full checkout; ""
	// when HEAD is detached or was left alone.
	Branch string `json:"branch,omitempty"`
	// Detached reports that a full checkout left HEAD detached at Commit.
	Detached bool `json:"detached,omitempty"`
	Already  bool `json:"-"` // HEAD was on Branch already
	// MovedOn, when not zero, is where Branch was when HEAD was attached
	// to it: other writers kept appending to it while its files were
	// written, Checkout gave up catching up, and the work tree shows
	// Commit, an older commit of Branch's first-parent line (its index
	// says so: the next checkout writes what changed since).
	MovedOn object.ID `json:"moved_on,omitzero"`
	// Deleted, when not empty, is the branch asked for, which another
	// writer deleted while its files were written: HEAD is detached at
	// Commit, the commit they show.
	Deleted string `json:"deleted,omitempty"`

	Written   int `json:"written"`   // files written
	Removed   int `json:"removed"`   // files of streams absent at the commit, removed
	Unchanged int `json:"unchanged"` // files left as they were
}

// Checkout writes the state of every stream at a revision to the work
// tree, one file <stream>.json each (2-space indent, sorted keys, final
// newline), removes the files of streams the revision does not have, and
// moves HEAD there (SPEC §3 `checkout`): attached when the revision names
// a branch, detached otherwise.
//
// Only what differs is written. The index of what checkout last wrote
// (.evgit/worktree: each file's state hash, size and modification time)
// tells a file that is already right from one that is missing, was
// edited by hand, or holds another state; all three are written.
// File paths never leave the work tree: stream names cannot hold "..",
// and checkout refuses to write through a symbolic link. Nor does it
// write into a folder that macOS's or Windows' file system takes for the
// repository's (a stream .Evgit/x is refused, on every system). Should another
// writer move the branch it attaches to while it writes, it writes again
// at the branch's new commit, so that HEAD is never left attached to a
// branch the files do not show, nor detached where a branch was asked for.
// After 8 such moves it stops catching up: HEAD is attached all the same,
// the files show an older commit of the branch's first-parent line, and
// CheckoutResult.MovedOn says where the branch is (a branch moved
// anywhere else, 8 times, is an error matching ErrConflict). A branch
// deleted meanwhile leaves HEAD detached at the commit the files show
// (CheckoutResult.Deleted).
//
// An empty rev means HEAD. A repository with no work tree (bare, or
// opened by a folder not named .evgit; WorkTree), a Branch that exists
// and an actor with control characters are errors matching ErrInvalid; a
// revision, or one of Streams, that does not exist, ErrNotFound.
func (r *Repository) Checkout(ctx context.Context, rev string, opts CheckoutOptions) (*CheckoutResult, error) {
	if err := checkActor(opts.Actor); err != nil {
		return nil, err
	}
	if r.workTree != "" {
		unlock, err := store.LockFile(filepath.Join(r.gitDir, WorktreeLockName))
		if err != nil {
			return nil, fmt.Errorf("checkout: the work tree's lock: %w", err)
		}
		defer unlock()
	}
	for tries := 1; ; tries++ {
		opts.movedOn = tries == checkoutTries
		res, err := r.checkoutOnce(ctx, rev, opts)
		if !errors.Is(err, errBranchMoved) {
			return res, err
		}
		if tries == checkoutTries {
			return nil, fmt.Errorf("%w: checkout %s: the branch moved %d times while its files were written; run it again", ErrConflict, rev, tries)
		}
	}
}

// errBranchMoved is moveHead's answer when the branch to attach HEAD to
// is no longer at the commit whose files were written.
var errBranchMoved = errors.New("the branch moved during the checkout")

// checkoutWritten, when set (by tests), runs between writing the files
// and moving HEAD: where another writer's commit races a checkout.
var checkoutWritten func()

// checkoutTries is how many times Checkout writes the files of a branch
// that other writers keep moving before it gives up.
const checkoutTries = 8

// checkoutOnce is one try of Checkout.
func (r *Repository) checkoutOnce(ctx context.Context, rev string, opts CheckoutOptions) (*CheckoutResult, error) {
	if r.workTree == "" {
		return nil, invalidf("checkout needs a work tree, and %s has none: it is a bare repository, or a .evgit reached by its real name (run it from the work tree)", r.gitDir)
	}
	if opts.Branch != "" {
		if len(opts.Streams) > 0 {
			return nil, invalidf("a checkout of streams makes no branch (-b); it leaves HEAD where it is")
		}
		if err := refs.CheckBranchName(opts.Branch); err != nil {
			return nil, invalidf("%v", err)
		}
		// A name taken, or that clashes with another ref's path (x
		// against x/y), is refused before any file is written, as
		// moveHead would refuse it after.
		if err := r.st.Update(ctx, func(tx *store.Tx) error {
			return newRefFree(tx, refs.HeadsPrefix+opts.Branch, "branch", opts.Branch)
		}); err != nil {
			return nil, err
		}
	}
	for _, s := range opts.Streams {
		if err := object.ValidateStream(s); err != nil {
			return nil, invalidf("%v", err)
		}
	}
	if rev == "" {
		rev = refs.HEAD
	}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	if n, ok := walk.PreviousSelector(rev); ok && len(opts.Streams) == 0 {
		// @{-N} (checkout -): back to the branch HEAD was on, attached,
		// as in Git; or to the commit, detached, when HEAD was detached.
		branch, id, err := walk.PreviousCheckout(ctx, source{r.st}, n)
		if err != nil {
			return nil, err
		}
		if rev = id.String(); branch != "" {
			rev = strings.TrimPrefix(branch, refs.HeadsPrefix)
		}
	}
	// A branch wins over a tag of the same name, as git checkout does:
	// checking out a branch is what attaches HEAD. So does a branch
	// whose name is a ref's full name (refs/heads/x, a branch of its
	// own): Git switches to it, where refs/heads/x names x elsewhere.
	at := rev
	if _, ok := r.st.Ref(refs.HeadsPrefix + rev); ok {
		at = refs.HeadsPrefix + rev
		if _, tag := r.st.Ref(refs.TagsPrefix + rev); tag && r.warn != nil {
			r.warn(fmt.Sprintf("refname '%s' is ambiguous.", rev)) // as Git warns, and takes the branch
		}
	}
	id, err := r.resolveAt(ctx, at, opts.AsOf)
	if err != nil && opts.Branch != "" && rev == refs.HEAD && opts.AsOf.IsZero() && errors.Is(err, walk.ErrUnknownRevision) {
		if res, ok, uerr := r.unbornBranch(ctx, opts); ok || uerr != nil {
			return res, uerr
		}
	}
	if err != nil {
		return nil, err
	}
	views, err := r.treeViews(ctx, id)
	if err != nil {
		return nil, err
	}
	view := views[0]
	root, err := os.OpenRoot(r.workTree)
	if err != nil {
		return nil, fmt.Errorf("the work tree: %w", err)
	}
	defer root.Close()
	wt := &worktree{dir: r.workTree, root: root, checked: map[string]bool{}}
	wt.cwd, _ = os.Stat(".")
	idxPath := filepath.Join(r.gitDir, WorktreeIndexName)
	if fi, err := os.Lstat(idxPath); err == nil && !fi.Mode().IsRegular() {
		// Found now, before any file is written, not when the index is.
		return nil, fmt.Errorf("cannot write the work tree index: %s is not a file", idxPath)
	}
	idx, idxOK := readWorktreeIndex(idxPath)
	res := &CheckoutResult{Commit: id}

	// What to write: every stream, or the ones named.
	var want []object.TreeEntry
	if len(opts.Streams) > 0 {
		for _, s := range slices.Compact(slices.Sorted(slices.Values(opts.Streams))) {
			e, found, err := view.snaps.Lookup(view.root, s)
			if err != nil {
				return nil, err
			}
			if !found {
				return nil, notFoundf("stream %s does not exist at %s", s, revAt(rev, opts.AsOf, id))
			}
			want = append(want, e)
		}
	} else {
		for e, err := range view.snaps.All(view.root) {
			if err != nil {
				return nil, err
			}
			want = append(want, e)
		}
	}
	same, err := wt.unchangedFiles(ctx, want, idx)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(want))
	var jobs []fileJob
	for i, e := range want {
		seen[e.Stream] = true
		if same[i] {
			res.Unchanged++
			continue
		}
		st, err := view.snaps.State(e)
		if err != nil {
			return nil, err
		}
		p, err := wt.plan(e.Stream)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, fileJob{entry: e, path: p, state: st})
	}
	// Every path is checked, and every refusal below made, before
	// anything is written: no folder is made for a checkout refused (a
	// helper's audit found a refused checkout's new folders left behind).
	for _, j := range jobs {
		if err := wt.checkDirs(j.path, false); err != nil {
			return nil, err
		}
	}
	// What the last checkout wrote: the index, or without one (no
	// checkout ever ran, or its index was lost), the files of the
	// streams at HEAD that hold what checkout writes for them.
	partial := !idxOK || idx.commit.IsZero()
	var head *headFiles
	var gone []removal
	if len(opts.Streams) == 0 {
		if partial {
			if head, err = r.filesAtHead(ctx); err != nil {
				return nil, err
			}
		}
		if err := untrackedInTheWay(jobs, idx, head); err != nil {
			return nil, indexDamageNoted(err, idxPath, idxOK)
		}
		if gone, err = wt.removals(seen, idx, head); err != nil {
			return nil, indexDamageNoted(err, idxPath, idxOK)
		}
	}
	for _, j := range jobs {
		if err := wt.checkDirs(j.path, true); err != nil {
			return nil, err
		}
	}
	wt.removeLeftovers(idx)
	// Before the first file, the index lists every file this checkout
	// may write as checkout's, with a state no file matches: a checkout
	// killed part way (kill -9, a power loss) then leaves files the next
	// checkout rewrites or removes. Without it they were left for good,
	// taken for the user's (a helper's audit). A stop it sees (Ctrl-C, a
	// full disk) records what it wrote exactly, below.
	if len(jobs) > 0 {
		intent := &worktreeIndex{commit: idx.commit, written: time.Now(), entries: maps.Clone(idx.entries)}
		if intent.entries == nil {
			intent.entries = map[string]worktreeEntry{}
		}
		for _, j := range jobs {
			intent.entries[j.entry.Stream] = worktreeEntry{}
		}
		if err := pack.WriteFileAtomic(pack.OS, idxPath, intent.encode()); err != nil {
			return nil, fmt.Errorf("writing the work tree index: %w", err)
		}
	}
	// Creating files is what a checkout waits on: several at once.
	if err := writeFiles(ctx, wt, jobs); err != nil {
		// Stopped (Ctrl-C, a full disk): HEAD stays, and the index keeps
		// the files written so far as checkout's, so that the next
		// checkout rewrites or removes them; unlisted, a stream's file
		// that HEAD lacks would be left behind as the user's.
		for _, j := range jobs {
			if j.done {
				ent := j.result
				ent.hash, ent.version = j.entry.StateID, j.entry.Version
				idx.entries[j.entry.Stream] = ent
			}
		}
		idx.written = time.Now()
		if werr := pack.WriteFileAtomic(pack.OS, idxPath, idx.encode()); werr != nil {
			err = fmt.Errorf("%w; then writing the work tree index: %w", err, werr)
		}
		return nil, err
	}
	for _, j := range jobs {
		ent := j.result
		ent.hash, ent.version = j.entry.StateID, j.entry.Version
		idx.entries[j.entry.Stream] = ent
		res.Written++
	}
	changed := make(map[string]bool) // folders whose names this checkout changed
	for _, j := range jobs {
		wt.changedUp(changed, j.path)
	}
	if len(opts.Streams) == 0 {
		for _, g := range gone {
			if g.file {
				if err := wt.remove(g.stream); err != nil {
					return nil, err
				}
				p, _ := wt.path(g.stream) // valid: removed above
				wt.changedUp(changed, p)
			}
			delete(idx.entries, g.stream)
			res.Removed++
		}
		idx.commit = id
	}
	if err := wt.syncDirs(changed); err != nil {
		return nil, err
	}
	idx.written = time.Now()
	if err := pack.WriteFileAtomic(pack.OS, filepath.Join(r.gitDir, WorktreeIndexName), idx.encode()); err != nil {
		return nil, fmt.Errorf("writing the work tree index: %w", err)
	}
	if len(opts.Streams) > 0 {
		return res, nil
	}
	if checkoutWritten != nil {
		checkoutWritten()
	}
	if err := r.moveHead(ctx, rev, at, id, opts, res); err != nil {
		return nil, err
	}
	return res, nil
}

// untrackedInTheWay refuses a full checkout that would overwrite a file
// the user made: one no checkout wrote (not in the index, nor, without
// an index, a file holding its stream's state at HEAD) that holds other
// bytes than its stream's state, as git checkout refuses to overwrite an
// untracked file. Links are replaced, never followed, as before.
// Checking out named streams (checkout REV -- STREAM) asks for those
// files, and overwrites them.
func untrackedInTheWay(jobs []fileJob, idx *worktreeIndex, head *headFiles) error {
	var inTheWay []string
	for _, j := range jobs {
		if _, known := idx.entries[j.entry.Stream]; known {
			continue
		}
		fi, err := os.Lstat(j.path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		have, err := os.ReadFile(j.path)
		if err != nil {
			return err
		}
		want, err := StateFile(j.state)
		if err != nil {
			return err
		}
		if bytes.Equal(have, want) {
			continue
		}
		if ours, err := head.wrote(j.entry.Stream, have); err != nil {
			return err
		} else if !ours {
			inTheWay = append(inTheWay, j.path)
		}
	}
	return refuseInTheWay("overwrite", inTheWay)
}

// refuseInTheWay is the error of a checkout that would overwrite or
// remove files no checkout wrote; nil when there are none.
func refuseInTheWay(verb string, paths []string) error {
	switch len(paths) {
	case 0:
		return nil
	case 1:
		return invalidf("checkout would %s %s, which no checkout wrote; move or remove it", verb, paths[0])
	default:
		return invalidf("checkout would %s %s and %d more files no checkout wrote; move or remove them", verb, paths[0], len(paths)-1)
	}
}

// removal is a stream a full checkout drops from the work tree: its file
// removed, or, when none is there (deleted by hand, or no file can be
// where a file goes), only its entry in the index.
type removal struct {
	stream string
	file   bool
}

// removals returns what a full checkout removes: the streams the last
// checkout wrote (the index, or without one the regular files at HEAD
// that hold their state there) that the revision lacks. It removes
// nothing, and refuses, before anything is written, a removal that
// would fail or take what no checkout wrote: a folder in a file's place,
// a link in a folder's, a file a user made. Anything but a regular file
// where a stream at HEAD lies, with no index, is not checkout's: it is
// left as it is, never read.
func (w *worktree) removals(seen map[string]bool, idx *worktreeIndex, head *headFiles) ([]removal, error) {
	gone := slices.Collect(maps.Keys(idx.entries))
	if head != nil {
		gone = append(gone, slices.Collect(maps.Keys(head.entries))...)
	}
	slices.Sort(gone)
	gone = slices.Compact(gone)
	var out []removal
	var inTheWay []string
	for _, s := range gone {
		if seen[s] {
			continue
		}
		_, known := idx.entries[s]
		p, err := w.path(s)
		if err != nil {
			return nil, err
		}
		fi, err := os.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			if known {
				out = append(out, removal{stream: s}) // only the index forgets it
			}
			continue
		case err != nil:
			return nil, err
		}
		// A link in a folder's place is refused, not followed.
		if err := w.checkDirs(p, false); err != nil {
			return nil, err
		}
		switch {
		case fi.IsDir():
			return nil, fmt.Errorf("%w: %s is a folder", ErrInvalid, p)
		case !fi.Mode().IsRegular():
			if known {
				out = append(out, removal{stream: s, file: true}) // replaced, never followed
			}
			continue
		case !known:
			// Known only as a stream at HEAD: removed if it holds what
			// checkout writes for it there.
			have, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			if ours, err := head.wrote(s, have); err != nil {
				return nil, err
			} else if !ours {
				inTheWay = append(inTheWay, p)
				continue
			}
		}
		out = append(out, removal{stream: s, file: true})
	}
	if err := refuseInTheWay("remove", inTheWay); err != nil {
		return nil, err
	}
	return out, nil
}

// headFiles is, for a checkout without an index, what the last checkout
// most likely wrote: the streams at HEAD. A file counts as written by
// checkout only if it holds exactly the file of its stream's state at
// HEAD: a file a user made in a stream's place, before any checkout ran,
// is theirs.
type headFiles struct {
	view    treeView
	entries map[string]object.TreeEntry
}

// filesAtHead returns the streams at HEAD's commit; none on an unborn
// branch.
func (r *Repository) filesAtHead(ctx context.Context) (*headFiles, error) {
	_, view, entries, err := r.entriesAt(ctx, refs.HEAD)
	if errors.Is(err, ErrNotFound) {
		return &headFiles{}, nil
	}
	if err != nil {
		return nil, err
	}
	h := &headFiles{view: view, entries: make(map[string]object.TreeEntry, len(entries))}
	for _, e := range entries {
		h.entries[e.Stream] = e
	}
	return h, nil
}

// wrote reports whether have is the file checkout writes for stream's
// state at HEAD; false for a stream HEAD lacks, or with no headFiles.
func (h *headFiles) wrote(stream string, have []byte) (bool, error) {
	if h == nil {
		return false, nil
	}
	e, ok := h.entries[stream]
	if !ok {
		return false, nil
	}
	st, err := h.view.snaps.State(e)
	if err != nil {
		return false, err
	}
	want, err := StateFile(st)
	if err != nil {
		return false, err
	}
	return bytes.Equal(have, want), nil
}

// movedOn answers a branch found at tip, not at the commit id whose
// files were written: errBranchMoved, to write the files again, but on
// the last try (opts.movedOn) when id is on tip's first-parent line,
// where other writers' appends put it; then res.MovedOn is tip.
func movedOn(tx *store.Tx, tip, id object.ID, opts CheckoutOptions, res *CheckoutResult) error {
	if !opts.movedOn {
		return errBranchMoved
	}
	var line lineSet
	on, err := line.has(tx, tip, id)
	switch {
	case err != nil:
		return err
	case !on:
		return errBranchMoved
	}
	res.MovedOn = tip
	return nil
}

// moveHead points HEAD at a checked-out commit: at the branch rev names
// (at is rev as resolved: a branch's full name when rev names one), at a
// new branch, or detached.
func (r *Repository) moveHead(ctx context.Context, rev, at string, id object.ID, opts CheckoutOptions, res *CheckoutResult) error {
	return r.st.Update(ctx, func(tx *store.Tx) error {
		if err := stillHeld(tx, id, rev); err != nil {
			return err
		}
		head, _ := tx.Ref(refs.HEAD)
		// A detached HEAD is named by its full ID, as Git writes it: a
		// short one could be read back as a branch of that name
		// (@{-N}, checkout -; a helper's audit).
		from := head.Symbolic
		if from == "" {
			from = head.ID.String()
		}
		from = shortBranch(from)
		target := "" // the branch to attach to
		switch {
		case opts.Branch != "":
			target = refs.HeadsPrefix + opts.Branch
			if err := newRefFree(tx, target, "branch", opts.Branch); err != nil {
				return err
			}
			if err := tx.UpdateRef(refs.Update{Name: target, New: id, Time: now(), Actor: opts.Actor, Message: "branch: Created from " + rev}); err != nil {
				return err
			}
		case !opts.AsOf.IsZero():
		case rev == refs.HEAD && head.IsSymbolic():
			if v, ok := tx.Ref(head.Symbolic); ok && v.ID != id {
				if err := movedOn(tx, v.ID, id, opts, res); err != nil {
					return err
				}
			}
			target = head.Symbolic
		case at == refs.HeadsPrefix+rev:
			// rev named a branch by its short name: attach to it, at the
			// commit written. Any other revision detaches, a branch's
			// full name (refs/heads/x) too, as in Git, unless a branch
			// is named so itself.
			v, ok := tx.Ref(at)
			if !ok {
				// Deleted while its files were written: HEAD detaches
				// at the commit they show, and the result says why.
				res.Deleted = shortBranch(at)
				break
			}
			if !v.IsSymbolic() {
				if v.ID != id {
					if err := movedOn(tx, v.ID, id, opts, res); err != nil {
						return err
					}
				}
				target = at
			}
		}
		cur, _, _ := tx.Resolve(refs.HEAD)
		if target != "" {
			res.Branch = shortBranch(target)
			if head.Symbolic != target {
				tx.SetSymbolic(refs.HEAD, target)
			} else {
				res.Already = true
			}
			// HEAD's reflog records the checkout, as Git's does, also
			// of the branch HEAD is on; not of HEAD itself. It names
			// where HEAD is, the branch's tip, also when the branch
			// moved on past the commit written (a reader takes a HEAD
			// log whose newest entry is elsewhere for an old build's,
			// and reads the branch's).
			to := id
			if !res.MovedOn.IsZero() {
				to = res.MovedOn
			}
			if rev != refs.HEAD || !res.Already {
				tx.LogHead(refs.Update{Old: cur, New: to, Actor: opts.Actor,
					Message: fmt.Sprintf("checkout: moving from %s to %s", from, res.Branch)})
			}
			return nil
		}
		res.Detached = true
		if !head.IsSymbolic() && cur == id {
			return nil
		}
		if head.IsSymbolic() {
			tx.SetSymbolic(refs.HEAD, "")
		}
		return tx.UpdateRef(refs.Update{Name: refs.HEAD, Old: cur, New: id, Time: now(), Actor: opts.Actor,
			Message: fmt.Sprintf("checkout: moving from %s to %s", from, id)})
	})
}

// unbornBranch is checkout -b NEW in a repository whose HEAD names a
// branch with no commit yet: as in Git, HEAD moves to NEW, unborn too,
// and nothing is written. ok is false when HEAD is not unborn.
func (r *Repository) unbornBranch(ctx context.Context, opts CheckoutOptions) (res *CheckoutResult, ok bool, err error) {
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		head, _ := tx.Ref(refs.HEAD)
		if id, _, _ := tx.Resolve(refs.HEAD); !head.IsSymbolic() || !id.IsZero() {
			return nil
		}
		target := refs.HeadsPrefix + opts.Branch
		if err := newRefFree(tx, target, "branch", opts.Branch); err != nil {
			return err
		}
		tx.SetSymbolic(refs.HEAD, target)
		ok = true
		return nil
	})
	if err != nil || !ok {
		return nil, false, err
	}
	return &CheckoutResult{Branch: opts.Branch}, true, nil
}

// StateFile returns the bytes checkout writes for a state: its canonical
// JSON indented by two spaces, with a final newline.
func StateFile(state []byte) ([]byte, error) {
	canon, err := object.CanonicalJSON(state)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(canon) + len(canon)/4 + 1)
	if err := json.Indent(&buf, canon, "", "  "); err != nil {
		return nil, err
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// worktree writes and removes stream files under dir.
type worktree struct {
	dir string
	// root is dir opened as an os.Root: every folder made, file written,
	// renamed or removed goes through it, so a folder swapped for a link
	// to elsewhere between the checks and the writes is refused, never
	// written through (a helper's audit: 67 files landed outside).
	root    *os.Root
	checked map[string]bool // folders known to be real folders inside dir
	// cwd is the process's current folder, which an emptied folder is
	// not removed as (Git, since 2.35, leaves it too): the user's shell
	// stands in it, and the next command would fail to find it. nil when
	// it cannot be read.
	cwd fs.FileInfo
}

// path returns the file of a stream, refusing one that would leave the
// work tree.
func (w *worktree) path(stream string) (string, error) {
	if err := object.ValidateStream(stream); err != nil {
		return "", err
	}
	p := filepath.Join(w.dir, filepath.FromSlash(stream)+".json")
	rel, err := filepath.Rel(w.dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", invalidf("stream %s would be written outside the work tree", stream)
	}
	return p, nil
}

// rel returns p, a path in the work tree, relative to it, as the root
// takes it.
func (w *worktree) rel(p string) string {
	rel, err := filepath.Rel(w.dir, p)
	if err != nil {
		return p // absolute: the root refuses it
	}
	return rel
}

// checkDirs makes the folders from the work tree down to p's folder,
// refusing any that is a symbolic link (which could lead outside).
// Without create it makes none, and a folder missing is no error.
func (w *worktree) checkDirs(p string, create bool) error {
	dir := filepath.Dir(p)
	if dir == w.dir || w.checked[dir] {
		return nil
	}
	if err := w.checkDirs(dir, create); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !create:
		return nil // made when the files are written
	case errors.Is(err, fs.ErrNotExist):
		if err := w.root.Mkdir(w.rel(dir), 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symbolic link; checkout does not write through links", ErrInvalid, dir)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is in the way of a stream's folder", ErrInvalid, dir)
	}
	w.checked[dir] = true
	return nil
}

// unchanged reports whether a stream's file is still what the index says
// checkout wrote: same size, modification time, inode change time and
// inode number (where the index has them: indexes before session 28
// have not), and, for a file whose time stamp is not older than the
// index file's (a later edit in the same tick of the file system's clock
// would keep the time stamp: Git's "racy" files), the same bytes. The
// change time and inode, as Git's index keeps them, catch an edit whose
// size is the same and whose old modification time was put back (`touch
// -r`, `cp -p`, `sed -i` and `touch -r`: a helper's audit).
//
// A file whose change time or inode differs from the index's (or the
// index has none) is judged by its bytes, as Git refreshes its index:
// unchanged, the entry with its stamp now is returned as fresh, for the
// caller to keep, so a work tree copied with cp -a, a file hard-linked
// or chmod-ed, or an index of version 2 costs one read, not a rewrite.
func (w *worktree) unchanged(stream string, e worktreeEntry, indexMtime time.Time) (same bool, fresh *worktreeEntry) {
	p, err := w.path(stream)
	if err != nil {
		return false, nil
	}
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.size || fi.ModTime().UnixNano() != e.mtime {
		return false, nil
	}
	ctime, ino, stamped := fileStamp(fi)
	moved := stamped && (ctime != e.ctime || ino != e.ino)
	if !moved && fi.ModTime().Before(indexMtime) {
		return true, nil
	}
	b, err := os.ReadFile(p)
	if err != nil || object.Hash(object.KindBlob, b) != e.file {
		return false, nil
	}
	if moved {
		e.ctime, e.ino = ctime, ino
		return true, &e
	}
	return true, nil
}

// unchangedFiles says, for each stream of want, whether its file holds
// its state as checkout wrote it: the index lists the state, and the file
// is unchanged since. The files are looked at on several goroutines (a
// stat each, and a read of a racy one): a work tree of 100,000 streams
// took 0.37 s of stats on one.
func (w *worktree) unchangedFiles(ctx context.Context, want []object.TreeEntry, idx *worktreeIndex) ([]bool, error) {
	type judged struct {
		same  bool
		fresh *worktreeEntry
	}
	same := make([]bool, 0, len(want))
	fresh := map[string]worktreeEntry{} // entries that took the stamp their file has now
	err := ordered.Read(len(want), 1024, checkoutStatters, func(i int) (judged, error) {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return judged{}, err
			}
		}
		e := want[i]
		old, known := idx.entries[e.Stream]
		if !known || old.hash != e.StateID {
			return judged{}, nil
		}
		ok, f := w.unchanged(e.Stream, old, idx.mtime)
		return judged{ok, f}, nil
	}, func(j judged) bool {
		if j.fresh != nil {
			fresh[want[len(same)].Stream] = *j.fresh
		}
		same = append(same, j.same)
		return true
	})
	// Kept once the statters are done reading the index.
	maps.Copy(idx.entries, fresh)
	return same, err
}

// throughRepository reports whether a path in the work tree goes through
// a folder that some file system takes for the repository's (.evgit): in
// any case (macOS, Windows), through \ (Windows), with trailing dots or
// spaces (Windows drops them), as its short name EVGIT~1 (Windows), or
// with code points HFS+ ignores (macOS), as Git checks for .git.
func throughRepository(rel string) bool {
	for seg := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		for part := range strings.SplitSeq(seg, `\`) {
			part = strings.TrimRight(strings.Map(hfsIgnored, part), ". ")
			if strings.EqualFold(part, DirName) || strings.EqualFold(part, "evgit~1") {
				return true
			}
		}
	}
	return false
}

// hfsIgnored drops the code points HFS+ ignores in names.
func hfsIgnored(r rune) rune {
	switch {
	case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x206a && r <= 0x206f, r == 0xfeff:
		return -1
	}
	return r
}

// checkoutStatters is how many goroutines look at a work tree's files.
const checkoutStatters = 4

// plan returns a stream's file path once nothing is in the way of
// writing it: no file where a folder goes, no folder where the file
// goes. It writes nothing, so that a checkout refused on one stream's
// path has written no other stream's file.
func (w *worktree) plan(stream string) (string, error) {
	p, err := w.path(stream)
	if err != nil {
		return "", err
	}
	// Stream names tell .evgit from .Evgit, and / from \ ; some file
	// systems do not, and there the file would go into the repository's
	// folder. Writing one is refused everywhere, as Git refuses .GIT, so
	// that a work tree checks out alike on every system; such a file is
	// still looked at and removed, so that a checkout can leave a commit
	// that holds the stream.
	if throughRepository(w.rel(p)) {
		return "", invalidf("stream %s would be written into the repository's folder on macOS or Windows, whose file systems ignore case (and Windows takes \\ for /)", stream)
	}
	if err := w.checkDirs(p, false); err != nil {
		return "", err
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return "", fmt.Errorf("%w: %s is a folder", ErrInvalid, p)
	}
	return p, nil
}

// fileJob is one file a checkout writes, and what writing it gave.
type fileJob struct {
	entry  object.TreeEntry
	path   string
	state  []byte
	result worktreeEntry
	done   bool // the file is written: result holds its size, time and hash
}

// checkoutFileWritten, when set (by tests), runs after each file a
// checkout writes, on the writing goroutine.
var checkoutFileWritten func()

// writeFiles writes the jobs' files with a few workers; folders exist.
func writeFiles(ctx context.Context, w *worktree, jobs []fileJob) error {
	const workers = 8
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(workers, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) || ctx.Err() != nil {
					return
				}
				ent, err := w.writeStateFile(jobs[i].path, jobs[i].entry.Stream, jobs[i].state)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				jobs[i].result, jobs[i].done = ent, true
				if checkoutFileWritten != nil {
					checkoutFileWritten()
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// writeStateFile writes the file of a stream at p (its folder exists),
// replacing a link rather than following it. The bytes go to a file of
// their own beside p, renamed over p once whole, so a write that fails
// (a full disk) leaves the old file as it was, never half of the new one
// (a helper's audit: a checkout on a full disk left a torn file that
// matched no commit).
func (w *worktree) writeStateFile(p, stream string, state []byte) (worktreeEntry, error) {
	b, err := StateFile(state)
	if err != nil {
		return worktreeEntry{}, fmt.Errorf("state of %s: %w", stream, err)
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		return worktreeEntry{}, fmt.Errorf("%w: %s is a folder", ErrInvalid, p)
	}
	if beforeWorkFile != nil {
		beforeWorkFile(p)
	}
	f, tmp, err := w.createBeside(p)
	if err != nil {
		return worktreeEntry{}, cannotWriteFile(p, err)
	}
	// The size and time the index keeps are those of the file this
	// wrote, read from it before it is closed, not from the path after:
	// anything that wrote the path in between would be vouched for.
	// Closed before the rename, so that a write whose error only the
	// close reports (NFS, a full disk) leaves the old file.
	_, err = writeWorkFile(f, b)
	var fi os.FileInfo
	if err == nil {
		fi, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.root.Rename(w.rel(tmp), w.rel(p)) // over a link, the link is replaced
	}
	if err != nil {
		w.root.Remove(w.rel(tmp))
		return worktreeEntry{}, cannotWriteFile(p, err)
	}
	e := worktreeEntry{size: fi.Size(), mtime: fi.ModTime().UnixNano(), file: object.Hash(object.KindBlob, b)}
	// The inode change time, which the rename sets, from the path: kept
	// only when the path is still this file as written (its inode, size
	// and time); else left unknown, and the next checkout reads the
	// file's bytes.
	if after, err := os.Lstat(p); err == nil && after.Size() == fi.Size() && after.ModTime().Equal(fi.ModTime()) {
		ctime, ino, ok := fileStamp(after)
		if _, ino0, ok0 := fileStamp(fi); ok && ok0 && ino == ino0 {
			e.ctime, e.ino = ctime, ino
		}
	}
	return e, nil
}

// cannotWriteFile names the stream's file a write failed for, not the
// file beside it that the write went to, which the user never sees.
func cannotWriteFile(p string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		err = pe.Err
	case errors.As(err, &le):
		err = le.Err
	}
	return fmt.Errorf("cannot write %s: %w", p, err)
}

// leftoverName is the name of a file createBeside makes.
var leftoverName = regexp.MustCompile(`^\..+\.json\.[0-9a-f]{8}\.tmp$`)

// removeLeftovers removes what a checkout killed part way left beside
// the files it was writing: the index lists those streams with a state no
// file matches (the intent written before the first file), and their
// folders lose the files createBeside names (a helper's audit: they were
// left for good, and kept the folders alive). A folder that is a link, or
// that cannot be read, is left alone.
func (w *worktree) removeLeftovers(idx *worktreeIndex) {
	dirs := map[string]bool{}
	for s, e := range idx.entries {
		if !e.hash.IsZero() {
			continue
		}
		if p, err := w.path(s); err == nil {
			dirs[filepath.Dir(p)] = true
		}
	}
	for d := range dirs {
		if w.checkDirs(filepath.Join(d, "x.json"), false) != nil {
			continue
		}
		f, err := w.root.Open(w.rel(d))
		if err != nil {
			continue
		}
		ents, _ := f.ReadDir(-1)
		f.Close()
		for _, e := range ents {
			if e.Type().IsRegular() && leftoverName.MatchString(e.Name()) {
				w.root.Remove(w.rel(filepath.Join(d, e.Name())))
			}
		}
	}
}

// writeWorkFile writes a work-tree file's bytes; tests make it fail.
var writeWorkFile = (*os.File).Write

// beforeWorkFile, when set (by tests), runs before a work-tree file is
// created: where a folder may be swapped for a link.
var beforeWorkFile func(p string)

// createBeside creates a new file in p's folder, named after p with a
// random suffix no stream's file has (they all end in .json), with the
// mode a file created at p would get (0644 less the umask, as Git). The
// suffix is random, not the process's ID: a process that always runs as
// pid 1 (a container) met the files its killed runs left.
func (w *worktree) createBeside(p string) (*os.File, string, error) {
	dir, base := filepath.Split(p)
	for i := 0; ; i++ {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.%08x.tmp", base, rand.Uint32()))
		f, err := w.root.OpenFile(w.rel(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		return f, tmp, err
	}
}

// changedUp adds to changed the folders whose names writing or removing
// the file at p may have changed: its own, and those above it in the work
// tree (a folder made or removed is a name in its parent).
func (w *worktree) changedUp(changed map[string]bool, p string) {
	for dir := filepath.Dir(p); !changed[dir] && strings.HasPrefix(dir, w.dir); dir = filepath.Dir(dir) {
		changed[dir] = true
		if dir == w.dir {
			break
		}
	}
}

// syncDirs makes the names in the folders a checkout changed durable,
// before the index that vouches for them is written: a power loss could
// otherwise keep the index and lose a removal (the file then stayed for
// good, taken for the user's) or a rename (its temp file stayed); a
// helper's audit. A folder removed since is no error. The files' bytes
// are not synced: one whose bytes were lost no longer matches the index,
// and the next checkout rewrites it.
func (w *worktree) syncDirs(changed map[string]bool) error {
	for dir := range changed {
		f, err := w.root.Open(w.rel(dir))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = f.Sync()
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			return fmt.Errorf("syncing the work tree folder %s: %w", dir, err)
		}
		if checkoutDirSynced != nil {
			checkoutDirSynced(dir)
		}
	}
	return nil
}

// checkoutDirSynced, when set (by tests), is told of each work tree
// folder a checkout synced.
var checkoutDirSynced func(dir string)

// remove removes a stream's file and the folders it leaves empty.
func (w *worktree) remove(stream string) error {
	p, err := w.path(stream)
	if err != nil {
		return err
	}
	if err := w.checkDirs(p, false); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if err := w.root.Remove(w.rel(p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for dir := filepath.Dir(p); dir != w.dir && strings.HasPrefix(dir, w.dir); dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil && w.cwd != nil && os.SameFile(fi, w.cwd) {
			break
		}
		if w.root.Remove(w.rel(dir)) != nil {
			break
		}
		delete(w.checked, dir)
	}
	return nil
}

// worktreeIndex is what checkout last wrote. On disk (.evgit/worktree),
// written whole and atomically, it is text:
//
//	evgit worktree 3
//	commit <hex ID of the last full checkout, or 64 zeros>
//	written <Unix nanoseconds when the index was written>
//	<state hash> <version> <size> <mtime ns> <ctime ns> <inode> <file hash> <stream>
//	...
//	check <hex BLAKE3-256 of every byte above>
//
// one line a stream file, sorted by stream; the stream is the rest of
// the line (names hold no control characters). An index of version 2,
// as builds before session 28 wrote it, is read too: its lines lack the
// ctime and inode, which are then not compared. A file that does not
// parse, or whose check does not hold, is taken as no index: every file
// is then rewritten, and the streams at HEAD that the checkout does not
// write are removed, as the index would have listed them.
type worktreeIndex struct {
	commit  object.ID
	written time.Time
	entries map[string]worktreeEntry
	mtime   time.Time // the index file's modification time, when read
}

type worktreeEntry struct {
	hash    object.ID // the state's blob ID
	version uint64
	size    int64
	mtime   int64     // Unix nanoseconds
	ctime   int64     // inode change time, Unix nanoseconds; 0: not known
	ino     uint64    // inode number; with ctime 0 too: not known
	file    object.ID // blob ID of the file's bytes
}

const (
	worktreeMagic   = "evgit worktree 3"
	worktreeMagicV2 = "evgit worktree 2" // no ctime, no inode
)

func (x *worktreeIndex) encode() []byte {
	streams := slices.Sorted(maps.Keys(x.entries))
	// A line is two hashes, five numbers and the stream.
	b := make([]byte, 0, 256+len(streams)*(4*object.IDSize+100))
	b = append(b, worktreeMagic+"\ncommit "...)
	b = hex.AppendEncode(b, x.commit[:])
	b = append(b, "\nwritten "...)
	b = strconv.AppendInt(b, x.written.UnixNano(), 10)
	b = append(b, '\n')
	for _, s := range streams {
		e := x.entries[s]
		b = hex.AppendEncode(b, e.hash[:])
		b = append(b, ' ')
		b = strconv.AppendUint(b, e.version, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.size, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.mtime, 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, e.ctime, 10)
		b = append(b, ' ')
		b = strconv.AppendUint(b, e.ino, 10)
		b = append(b, ' ')
		b = hex.AppendEncode(b, e.file[:])
		b = append(b, ' ')
		b = append(b, s...)
		b = append(b, '\n')
	}
	sum := blake3.Sum256(b)
	b = append(b, "check "...)
	b = hex.AppendEncode(b, sum[:])
	return append(b, '\n')
}

// indexDamageNoted adds to a refusal of files in the way that the work
// tree index, which would have said whose they are, is there but did not
// read (a helper's audit: the refusal alone left a user to guess why
// checkout no longer knew its own files).
func indexDamageNoted(err error, idxPath string, idxOK bool) error {
	if idxOK || !errors.Is(err, ErrInvalid) {
		return err
	}
	b, rerr := os.ReadFile(idxPath)
	if errors.Is(rerr, fs.ErrNotExist) {
		return err
	}
	why := rerr
	if why == nil {
		if _, why = decodeWorktreeIndex(b); why == nil {
			return err
		}
	}
	return fmt.Errorf("%w (the work tree index, .evgit/%s, did not read: %v; without it, checkout takes as its own only the files that hold their streams' states at HEAD)", err, WorktreeIndexName, why)
}

// readWorktreeIndex reads the index; ok is false when there is none that
// can be trusted (missing, damaged, or of another version), and the index
// returned is then empty.
func readWorktreeIndex(path string) (x *worktreeIndex, ok bool) {
	empty := &worktreeIndex{entries: map[string]worktreeEntry{}}
	b, err := os.ReadFile(path)
	if err != nil {
		return empty, false
	}
	x, err = decodeWorktreeIndex(b)
	fi, serr := os.Lstat(path)
	if err != nil || serr != nil {
		return empty, false
	}
	x.mtime = fi.ModTime()
	return x, true
}

func decodeWorktreeIndex(b []byte) (*worktreeIndex, error) {
	// The check line is the last; no other line starts with "check ".
	i := bytes.LastIndex(b, []byte("\ncheck "))
	if i < 0 {
		return nil, fmt.Errorf("%w: work tree index: no check line", ErrCorrupt)
	}
	body, check := b[:i+1], b[i+len("\ncheck "):]
	sum := blake3.Sum256(body)
	if string(check) != hex.EncodeToString(sum[:])+"\n" {
		return nil, fmt.Errorf("%w: work tree index: the check does not hold", ErrCorrupt)
	}
	bad := func(n int) error { return fmt.Errorf("%w: work tree index: line %d", ErrCorrupt, n) }
	// next cuts the text before sep off rest.
	next := func(rest *[]byte, sep byte) ([]byte, bool) {
		field, after, ok := bytes.Cut(*rest, []byte{sep})
		*rest = after
		if sep == '\n' {
			// A line may end in CRLF, as bufio.Scanner, which read the
			// index before session 23, took it.
			field = bytes.TrimSuffix(field, []byte{'\r'})
		}
		return field, ok
	}
	rest := body
	header := [3][]byte{}
	for n := range header {
		line, ok := next(&rest, '\n')
		if !ok {
			return nil, fmt.Errorf("%w: work tree index: truncated", ErrCorrupt)
		}
		header[n] = line
	}
	x := &worktreeIndex{entries: map[string]worktreeEntry{}}
	fields := 7
	switch string(header[0]) {
	case worktreeMagic:
	case worktreeMagicV2:
		fields = 5
	default:
		return nil, bad(1)
	}
	commit, ok := bytes.CutPrefix(header[1], []byte("commit "))
	var err error
	if x.commit, err = object.ParseID(string(commit)); !ok || err != nil {
		return nil, bad(2)
	}
	written, ok := bytes.CutPrefix(header[2], []byte("written "))
	t, err := strconv.ParseInt(string(written), 10, 64)
	if !ok || err != nil {
		return nil, bad(3)
	}
	x.written = time.Unix(0, t)
	for n := 4; len(rest) > 0; n++ {
		line, _ := next(&rest, '\n') // the body ends in a newline
		var f [7][]byte
		ok := true
		for k := range fields {
			var found bool
			f[k], found = next(&line, ' ')
			ok = ok && found
		}
		if fields == 5 { // version 2: no ctime, no inode
			f[6], f[4], f[5] = f[4], []byte("0"), []byte("0")
		}
		var e worktreeEntry
		var err1, err2, err3, err4, err5, err6, err7 error
		e.hash, err1 = object.ParseID(string(f[0]))
		e.version, err2 = strconv.ParseUint(string(f[1]), 10, 64)
		e.size, err3 = strconv.ParseInt(string(f[2]), 10, 64)
		e.mtime, err4 = strconv.ParseInt(string(f[3]), 10, 64)
		e.ctime, err5 = strconv.ParseInt(string(f[4]), 10, 64)
		e.ino, err6 = strconv.ParseUint(string(f[5]), 10, 64)
		e.file, err7 = object.ParseID(string(f[6]))
		stream := string(line)
		if !ok || errors.Join(err1, err2, err3, err4, err5, err6, err7) != nil || object.ValidateStream(stream) != nil {
			return nil, bad(n)
		}
		if _, dup := x.entries[stream]; dup {
			return nil, bad(n)
		}
		x.entries[stream] = e
	}
	return x, nil
}
