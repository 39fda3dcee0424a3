// Package evgit is a Git-style, content-addressed event store.
//
// Events are hashed objects gathered into commits that link their parents;
// a commit's events land atomically. Branches and tags name points in the
// log; the state of a stream is the fold of its events, through a model
// (or JSON Merge Patch), at any revision. This package is the facade a Go
// program imports: it ties the object model (object), the storage (store,
// pack, refs), history traversal (walk) and the model (model).
package evgit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// DirName is the name of the repository folder inside a work tree.
const DirName = ".evgit"

// DefaultBranch is the branch HEAD names in a new repository.
const DefaultBranch = "main"

// Repository is an open evgit repository. It is safe for concurrent use
// by several goroutines; several processes may open the same repository.
type Repository struct {
	st       *store.Store
	gitDir   string // the .evgit folder
	workTree string // "" for a bare repository, or one not named .evgit (workTreeOf)

	// derivedState is what the process derives from history and keeps
	// in memory: decoded snapshot nodes, the line index, typed aggregate
	// snapshots. Never written; dropping it only costs time.
	derivedState *derivedState

	warn func(msg string) // OpenOptions.Warn

	mu     sync.Mutex
	heads  map[string]*headState // per branch ref: streams at the head
	mdl    *model.Model
	mdlID  object.ID
	mdlSet bool
}

// InitOptions configure Init.
type InitOptions struct {
	Bare   bool   // the folder itself is the repository; no work tree
	Branch string // the initial branch; DefaultBranch when empty
}

// Init creates a repository in dir (dir/.evgit, or dir itself when bare;
// "" is the current folder, as for `evgit init`) and opens it. Created is
// false when a repository was already there, which is harmless.
func Init(ctx context.Context, dir string, opts InitOptions) (repo *Repository, created bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, err
	}
	gitDir := filepath.Join(abs, DirName)
	if opts.Bare {
		gitDir = abs
	}
	// A file where a folder of the repository would go is named as such,
	// before anything below trips on it with a message about something
	// else.
	for _, p := range []string{abs, gitDir} {
		st, err := os.Stat(p)
		switch {
		case err == nil && !st.IsDir():
			return nil, false, fmt.Errorf("%w: cannot make a repository in %s: it is a file, not a folder", ErrInvalid, p)
		case errors.Is(err, syscall.ENOTDIR):
			return nil, false, fmt.Errorf("%w: cannot make a repository in %s: a folder on its path is a file", ErrInvalid, p)
		case errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.EINVAL):
			// A name too long, or holding a NUL: said here, not by the
			// first step below that trips on it.
			return nil, false, fmt.Errorf("%w: cannot make a repository in %q: %v", ErrInvalid, p, errors.Unwrap(err))
		}
	}
	branch := opts.Branch
	if branch == "" {
		branch = DefaultBranch
	}
	if err := refs.CheckBranchName(branch); err != nil {
		return nil, false, invalidf("%v", err)
	}
	// A format file not evgit's (a folder of other things given to init
	// --bare) is the user's: not overwritten.
	if b, err := pack.ReadRegular(filepath.Join(gitDir, "format")); err == nil && !store.IsFormatLine(b) || errors.Is(err, pack.ErrCorrupt) {
		return nil, false, fmt.Errorf("%w: %s holds a file named format that is not evgit's; init writes nothing there", ErrInvalid, gitDir)
	}
	// One folder, one repository: a work tree's repository and a bare
	// one would share it, and commands run there would find the one
	// and miss the other.
	switch {
	case opts.Bare && !store.Initialized(nil, gitDir) && store.Initialized(nil, filepath.Join(abs, DirName)):
		return nil, false, fmt.Errorf("%w: %s holds the repository of a work tree (%s); init --bare makes no second one there", ErrInvalid, abs, DirName)
	case !opts.Bare && !store.Initialized(nil, gitDir) && store.Initialized(nil, abs) && isBare(abs):
		return nil, false, fmt.Errorf("%w: %s is a bare repository; init makes no work tree's repository inside it", ErrInvalid, abs)
	}
	// The folders this init makes, deepest first, and the bare mark:
	// taken back if it fails (a full disk), with what store.Init makes.
	var madeDirs []string
	for p := gitDir; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == filepath.Dir(p) {
			break
		}
		madeDirs = append(madeDirs, p)
	}
	bareMark := filepath.Join(gitDir, "bare")
	madeMark := opts.Bare && !isBare(gitDir)
	stored := false // store.Init made the storage: from then on a failure leaves it
	defer func() {
		if err == nil || stored {
			return
		}
		if madeMark && !store.Initialized(nil, gitDir) {
			// Not when an init beside this one made the repository.
			_ = os.Remove(bareMark)
		}
		for _, d := range madeDirs {
			_ = os.Remove(d) // only when empty
		}
	}()
	if opts.Bare {
		if err := markBare(gitDir); err != nil {
			return nil, false, err
		}
	} else if !store.Initialized(nil, gitDir) {
		// The mark of an init --bare of this folder stopped before it
		// made the storage: this init makes a work tree's repository.
		if err := os.Remove(filepath.Join(gitDir, "bare")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, false, err
		}
	}
	created, err = store.Init(initFS, gitDir, branch)
	stored = err == nil
	if err == nil && opts.Bare && !isBare(gitDir) {
		// Another init --bare of this folder that failed took back the
		// mark this one found there and did not write.
		err = markBare(gitDir)
	}
	if err == nil && created && !opts.Bare {
		// Made here, a checkout that fails (an unknown revision) leaves
		// the repository as it found it; a repository made before has
		// it made by its first checkout.
		err = touch(filepath.Join(gitDir, WorktreeLockName))
	}
	if err == nil {
		err = initStopsHere()
	}
	if err != nil {
		return nil, false, err
	}
	repo, err = Open(ctx, gitDir)
	return repo, created, err
}

// touch makes an empty file at path unless one is there.
func touch(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// initFS is the file system Init makes the storage through: nil for the
// operating system's; a test fails its calls.
var initFS pack.FS

// initStopsHere is where a test stops Init after it made the storage,
// as a crash would.
var initStopsHere = func() error { return nil }

// markBare marks gitDir bare before init --bare makes its storage, so
// that an init stopped in between and run again finds the mark and
// finishes (made after, the storage alone looked like a work tree's
// repository). A repository there already is left as it is: bare if it
// is marked so or is not named .evgit (a bare one whose mark an older
// init did not write yet), else a work tree's, which --bare must not
// turn bare.
func markBare(gitDir string) error {
	if isBare(gitDir) {
		return nil
	}
	if store.Initialized(nil, gitDir) && filepath.Base(gitDir) == DirName {
		return fmt.Errorf("%w: %s is the repository of a work tree; init --bare does not make it bare", ErrInvalid, gitDir)
	}
	// The mark is an empty file, made in place (touch), not under a
	// temporary name and renamed: inits of one folder at once each make
	// it, and all of them renaming one temporary file failed all but the
	// first (a helper's audit).
	mark := filepath.Join(gitDir, "bare")
	err := makeMark(gitDir, mark)
	for tries := 0; errors.Is(err, fs.ErrNotExist) && tries < 100; tries++ {
		// The folder, made and taken back by another init meanwhile.
		err = makeMark(gitDir, mark)
	}
	return err
}

// makeMark makes the folder gitDir and the empty file mark in it, and
// makes both names durable (the folder's own, if made here, too).
func makeMark(gitDir, mark string) error {
	if err := os.MkdirAll(gitDir, 0o755); err != nil {
		return err
	}
	if err := touch(mark); err != nil {
		return err
	}
	if err := pack.OS.SyncDir(gitDir); err != nil {
		return err
	}
	return pack.OS.SyncDir(filepath.Dir(gitDir))
}

// Open opens the repository whose .evgit folder (or bare repository
// folder) is gitDir. Its work tree (WorkTree) is the folder that holds
// gitDir when gitDir is named .evgit, or is a link by another name to a
// folder named .evgit; a repository folder by any other name has none.
func Open(ctx context.Context, gitDir string) (*Repository, error) {
	return OpenWith(ctx, gitDir, OpenOptions{})
}

// OpenOptions tune how OpenWith and DiscoverWith keep what they read in
// memory.
type OpenOptions struct {
	// CacheBytes is the budget of decoded frames (compressed groups of
	// objects) kept in memory; 0 means 128 MiB, and a negative budget is
	// an error matching ErrInvalid.
	CacheBytes int
	// DropScanned lets go at once of each frame a long walk (a log, a
	// stream's history) leaves. By default such frames stay in memory,
	// the first to go when the budget needs room, so that a long-lived
	// process (a server) finds them on its next query; a process that
	// ends after one command (the evgit command line) stays smaller, and
	// faster, without them.
	DropScanned bool
	// Warn, when set, is told what Git would warn of, in its words: a
	// revision naming both a tag and a branch, or a ref whose name is
	// also a commit's abbreviated ID ("refname 'v1' is ambiguous."; the
	// tag, the ref, is taken, as Git takes it). It may be told the same
	// thing more than once (a call that resolves a name twice, or
	// retries), and from several goroutines at once when they share the
	// Repository. The command line prints each once, after "warning: ".
	Warn func(msg string)
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, gitDir string, opts OpenOptions) (*Repository, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.CacheBytes < 0 {
		return nil, invalidf("cache budget %d is negative", opts.CacheBytes)
	}
	abs, err := filepath.Abs(gitDir)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(abs, store.Options{BackgroundSeal: true, CacheBytes: opts.CacheBytes, DropLeft: opts.DropScanned})
	if err != nil {
		return nil, err
	}
	r := &Repository{st: st, gitDir: abs, heads: map[string]*headState{}, derivedState: newDerivedState(abs), warn: opts.Warn}
	r.workTree = workTreeOf(abs)
	return r, nil
}

// workTreeOf returns the work tree of the repository folder gitDir: the
// folder that holds it when it is named .evgit (as written, or where a
// link by another name leads), else none: it is bare, or a .evgit
// reached by the real name of a folder a link named .evgit leads to. The
// folder above such a one is no work tree (a review saw a checkout write
// there, and remove a file of the user's).
func workTreeOf(gitDir string) string {
	if isBare(gitDir) {
		return ""
	}
	if filepath.Base(gitDir) == DirName {
		return filepath.Dir(gitDir)
	}
	if real, err := filepath.EvalSymlinks(gitDir); err == nil && filepath.Base(real) == DirName {
		return filepath.Dir(real)
	}
	return ""
}

// isBare reports whether the repository at gitDir is marked bare.
func isBare(gitDir string) bool {
	_, err := os.Stat(filepath.Join(gitDir, "bare"))
	return err == nil
}

// Discover finds the repository that holds dir by walking up from it, as
// Git does, and opens it.
func Discover(ctx context.Context, dir string) (*Repository, error) {
	return DiscoverWith(ctx, dir, OpenOptions{})
}

// DiscoverWith is Discover with options.
func DiscoverWith(ctx context.Context, dir string, opts OpenOptions) (*Repository, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	gitDir, err := FindGitDir(abs)
	if err != nil {
		return nil, err
	}
	return OpenWith(ctx, gitDir, opts)
}

// FindGitDir returns the repository folder that holds dir, walking up
// from it as Discover does, without opening it. A dir that is not there,
// or not a folder, is an error matching ErrNotRepository (and, when it is
// not there, fs.ErrNotExist), as `git -C` refuses it: a mistyped path
// must not find the repository of a parent.
func FindGitDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("%w: %w", ErrNotRepository, err)
	} else if !st.IsDir() {
		return "", fmt.Errorf("%w: %s: not a folder", ErrNotRepository, abs)
	}
	// Walked up from where dir really is, as Git walks from the physical
	// folder getcwd gives: a folder entered through a symbolic link is in
	// the repository above the link's target. Walking the path as written
	// found the repository above the link, and a commit went there (a
	// helper's audit). Where the walk starts inside a repository folder
	// whose real name is not .evgit (a .evgit that is a link to
	// elsewhere), it has no work tree (OpenWith), as Git has none inside
	// a git folder.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return walkUp(real, abs)
	}
	return walkUp(abs, abs)
}

// walkUp looks for a repository in from and the folders above it; abs is
// the folder the search was asked for, which its error names.
func walkUp(from, abs string) (string, error) {
	for d := from; ; d = filepath.Dir(d) {
		for _, cand := range []string{filepath.Join(d, DirName), d} {
			if ok, err := isRepo(cand); err != nil {
				return "", err
			} else if ok {
				return cand, nil
			}
			// A repository that lost its format file is this folder's,
			// damaged: walking on would read and write a repository
			// further up in its place (a helper's audit: a nested
			// repository's commits went to the outer one).
			if store.HoldsLog(nil, cand) {
				return "", fmt.Errorf("%w: %s holds an evgit log but no format file (damaged?); not looking further up", ErrCorrupt, cand)
			}
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w (or any parent): %s", ErrNotRepository, abs)
		}
	}
}

// isRepo reports whether dir holds a repository: a format file and a
// log. A folder it may not look into, or a look that fails otherwise (too
// many open files), is an error naming it: taken for no repository, it
// sent the search on up to "not an evgit repository" (a helper's audit).
func isRepo(dir string) (bool, error) {
	st, err := statFormat(filepath.Join(dir, "format"))
	if err != nil {
		// Not there, a file on the path, a path too long, a loop of
		// symbolic links: no repository here, look further up (as Git
		// does). Anything else says something is here that cannot be
		// looked at.
		for _, notHere := range []error{fs.ErrNotExist, syscall.ENOTDIR, syscall.ENAMETOOLONG, syscall.ELOOP} {
			if errors.Is(err, notHere) {
				return false, nil
			}
		}
		return false, fmt.Errorf("cannot look for a repository in %s: %w", dir, pathCause(err))
	}
	if st.IsDir() {
		return false, nil
	}
	_, err = os.Stat(filepath.Join(dir, "log"))
	return err == nil, nil
}

// statFormat stats a format file; a test makes it fail.
var statFormat = os.Stat

// pathCause is what a *fs.PathError says went wrong, without the path a
// message names already; err itself when it is no such error.
func pathCause(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// Close records the snapshots still building (Flush) and releases the
// repository. Closing it again does nothing, and so does closing the nil
// Repository a failed Open or Init returns.
func (r *Repository) Close() error {
	if r == nil {
		return nil
	}
	err := r.Flush(context.Background())
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	if head, _, ok := r.st.Resolve(refs.HEAD); ok {
		r.derived().line.save(r.st, head)
	}
	return errors.Join(err, r.st.Close())
}

// GitDir returns the repository folder (.evgit, or the bare folder).
func (r *Repository) GitDir() string { return r.gitDir }

// WorkTree returns the work tree folder: "" for a bare repository, and
// for a repository folder not named .evgit, such as the real folder a
// .evgit link leads to (Open).
func (r *Repository) WorkTree() string { return r.workTree }

// Store returns the storage engine, for tools that need its internals
// (fsck, gc, benchmarks). What it reads is its caches' bytes, not copies:
// never change them.
func (r *Repository) Store() *store.Store { return r.st }

// TornBytes returns how many bytes of a torn write, left by a crash, the
// repository cut: opening it, or, opened while another process held its
// lock, at its first write.
func (r *Repository) TornBytes() int64 { return r.st.TornBytes() }

// TornKept returns where the bytes last cut (TornBytes) were kept,
// relative to the .evgit folder: a file in lost-found/. "" when nothing
// was cut.
func (r *Repository) TornKept() string { return r.st.TornKept() }

// Model returns the repository's model and the ID of its blob; nil and
// the zero ID when none is set. The model is the caller's copy: changing
// it changes nothing the repository reads.
func (r *Repository) Model(ctx context.Context) (*model.Model, object.ID, error) {
	if err := ctx.Err(); err != nil {
		return nil, object.ZeroID, err
	}
	m, id, err := r.model()
	return m.Clone(), id, err
}

// model returns the repository's model, as it stands now.
func (r *Repository) model() (*model.Model, object.ID, error) {
	// Another process may have set a model since we last looked.
	if err := r.st.Refresh(); err != nil {
		return nil, object.ZeroID, err
	}
	v, ok := r.st.Ref(refs.Model)
	return r.modelFor(r.st, v.ID, ok)
}

// modelIn returns the model a transaction sees.
func (r *Repository) modelIn(tx *store.Tx) (*model.Model, object.ID, error) {
	v, ok := tx.Ref(refs.Model)
	return r.modelFor(tx, v.ID, ok)
}

// modelFor returns the model stored as blob id, parsing it once. It
// never holds r.mu while it reads the blob: a transaction, which holds
// the store's lock, takes r.mu here too, and a reader that held r.mu
// while waiting for the store's lock would deadlock with it.
func (r *Repository) modelFor(rd reader, id object.ID, ok bool) (*model.Model, object.ID, error) {
	r.mu.Lock()
	if !ok {
		if r.mdlSet && !r.mdlID.IsZero() {
			r.heads = map[string]*headState{} // states folded by another model
		}
		r.mdl, r.mdlID, r.mdlSet = nil, object.ZeroID, true
		r.mu.Unlock()
		return nil, object.ZeroID, nil
	}
	if r.mdlSet && r.mdlID == id {
		m := r.mdl
		r.mu.Unlock()
		return m, id, nil
	}
	r.mu.Unlock()
	kind, src, _, err := rd.Get(id)
	if err == nil && kind != object.KindBlob {
		err = fmt.Errorf("%s is %s, not a blob", id.Short(), kind.WithArticle())
	}
	if err != nil {
		return nil, object.ZeroID, fmt.Errorf("model: %w", err)
	}
	m, err := model.Parse(src)
	if err != nil {
		return nil, object.ZeroID, fmt.Errorf("stored model: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mdlSet && r.mdlID == id {
		return r.mdl, id, nil // parsed meanwhile by another caller
	}
	r.mdl, r.mdlID, r.mdlSet = m, id, true
	r.heads = map[string]*headState{} // states folded by another model
	return m, id, nil
}

// SetModel parses and stores a model; states are folded through it from
// now on (snapshots of another model are not used). A source with no
// YAML document, or only null (an empty file), is refused with ErrInvalid:
// it would drop every rule; `{}` is a model without types.
func (r *Repository) SetModel(ctx context.Context, src []byte, actor string) (object.ID, error) {
	if err := checkActor(actor); err != nil {
		return object.ZeroID, err
	}
	mdl, err := model.Parse(src)
	if err != nil {
		return object.ZeroID, invalidWrap(err)
	}
	if mdl.Blank() {
		// An empty file, or nothing on a pipe: taken, it would drop every
		// rule without a word. A model without types says so: {}.
		return object.ZeroID, invalidf("the model is empty: it would name no types and drop every rule (write {} for a model without types)")
	}
	id := object.Hash(object.KindBlob, src)
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		old, _ := tx.Ref(refs.Model)
		if old.ID == id {
			return nil // set already: what Check refuses now was taken then
		}
		if err := mdl.Check(); err != nil {
			return invalidWrap(err)
		}
		branches, err := r.branchesOffHead(tx)
		if err != nil {
			return err
		}
		// History folds under the new model without its requires, but
		// not into a state no read accepts.
		strict := mdl.Strict()
		forks, err := r.foldsAtHead(ctx, tx, strict, id, branches)
		if err != nil {
			return err
		}
		if err := foldsOnBranches(ctx, tx, strict, branches, forks); err != nil {
			return err
		}
		tx.PutObject(object.KindBlob, src)
		return tx.UpdateRef(refs.Update{Name: refs.Model, Old: old.ID, New: id, Time: now(), Actor: actor, Message: "model set"})
	})
	return id, err
}

// foldsAtHead folds every stream at HEAD's commit under mdl, as the first
// commit after a model set must, records the snapshot of the newest
// boundary there, and returns the first failure: a model
// whose apply fails on an event in history (a field its expressions read
// that old events lack) would leave that stream without a state, and the
// branch without commits, since a snapshot needs every stream. Its
// requires are not checked: they held when the events were written. The
// same pass returns every stream's state at each fork of branches.
func (r *Repository) foldsAtHead(ctx context.Context, tx *store.Tx, mdl *model.Model, mdlID object.ID, branches []offHead) (map[object.ID]map[string]streamState, error) {
	head, _, _ := tx.Resolve(refs.HEAD)
	if head.IsZero() {
		return nil, nil
	}
	c, err := readCommit(tx, head)
	if err != nil {
		return nil, err
	}
	// Not a dry run: the snapshot of the newest boundary at HEAD under
	// the new model goes in with it, which the first commit would
	// otherwise fold the whole line again to record.
	hs := &headState{head: head, offset: c.Offset, time: c.Time, streams: map[string]streamState{}}
	w := &commitWriter{r: r, tx: tx, mdl: mdl, mdlID: mdlID, hs: hs, foldAt: map[object.ID]foldMark{}, ctx: ctx}
	if mdl.SnapshotInterval() == 0 {
		w.dryRun = true // no snapshot to record
	}
	for _, b := range branches {
		if b.fork.IsZero() {
			continue
		}
		m := w.foldAt[b.fork]
		if m.streams == nil {
			m = foldMark{offset: b.at, streams: map[string]bool{}}
		}
		maps.Copy(m.streams, b.streams)
		w.foldAt[b.fork] = m
	}
	if err := hs.rebuild(w, newLoader(r, tx, mdl, mdlID)); err != nil {
		var re *model.RuleError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("the model does not fold the history at HEAD (%s): %w", head.Short(), err)
		}
		return nil, err
	}
	return w.foldedAt, nil
}

// offHead is a branch or tag whose tip is not on HEAD's first-parent line:
// its own commits (newest first) down to the first commit on that line,
// its fork (zero when it shares none), with the fork's offset, and the
// streams its own commits touch.
type offHead struct {
	name    string
	own     []object.ID
	fork    object.ID
	at      uint64
	streams map[string]bool
}

// branchesOffHead lists the branches and tags with commits HEAD's line
// lacks. Tags too: history a tag alone keeps is read (show v1:S,
// checkout v1) and built on (a branch made from it), and a model that
// cannot fold it was set, leaving it unreadable (a helper's audit). A ref
// whose tip is among the own commits of one listed before it, newest tip
// first, is left out: folding that one folds its commits from the same
// states (tags along a branch HEAD is not on were each folded down to the
// fork: 17 s for 50 tags; a review).
func (r *Repository) branchesOffHead(tx *store.Tx) ([]offHead, error) {
	head, _, _ := tx.Resolve(refs.HEAD)
	type tip struct {
		name   string
		id     object.ID
		offset uint64
	}
	var tips []tip
	for _, name := range slices.Concat(tx.RefNames(refs.HeadsPrefix), tx.RefNames(refs.TagsPrefix)) {
		v, _ := tx.Ref(name)
		if v.IsSymbolic() || v.ID.IsZero() || v.ID == head {
			continue
		}
		c, err := readCommit(tx, v.ID)
		if err != nil {
			return nil, err
		}
		tips = append(tips, tip{name, v.ID, c.Offset})
	}
	slices.SortStableFunc(tips, func(a, b tip) int { return cmp.Compare(b.offset, a.offset) })
	var out []offHead
	var line lineSet
	covered := map[object.ID]bool{}
	for _, t := range tips {
		if covered[t.id] {
			continue
		}
		b := offHead{name: t.name, streams: map[string]bool{}}
		id := t.id
		for !id.IsZero() {
			c, err := readCommit(tx, id)
			if err != nil {
				return nil, err
			}
			on := false
			if !head.IsZero() {
				if on, err = line.has(tx, head, id); err != nil {
					return nil, err
				}
			}
			if on {
				b.fork, b.at = id, c.Offset
				break
			}
			if err := streamsOf(tx, c, b.streams); err != nil {
				return nil, err
			}
			b.own = append(b.own, id)
			covered[id] = true
			id = c.Parent()
		}
		if len(b.own) > 0 {
			out = append(out, b)
		}
	}
	return out, nil
}

// streamsOf adds the streams of a commit's events to set.
func streamsOf(rd reader, c *object.Commit, set map[string]bool) error {
	for _, eid := range c.Events {
		kind, body, _, err := rd.Get(eid)
		if err != nil {
			return err
		}
		if kind != object.KindEvent {
			return fmt.Errorf("%w: %s is %s, not an event", ErrCorrupt, eid.Short(), kind.WithArticle())
		}
		name, _, err := object.EventNames(body)
		if err != nil {
			return err
		}
		set[string(name)] = true
	}
	return nil
}

// foldsOnBranches checks every branch and tag off HEAD's line as
// foldsAtHead checks HEAD: a branch that a new model cannot fold would
// take no commits, a tag would show no state. Only what each branch adds
// to HEAD's line is folded: its own commits, each stream they touch
// starting from its state at the fork (forks, from foldsAtHead's pass,
// which keeps there the streams the branches forking there touch; nothing
// at all for a branch that shares no commit with HEAD). A stream a branch
// does not touch holds what it holds on HEAD's line there, and HEAD's
// fold went through it (a fold depends only on the stream's state and
// the event).
func foldsOnBranches(ctx context.Context, tx *store.Tx, mdl *model.Model, branches []offHead, forks map[object.ID]map[string]streamState) error {
	for _, b := range branches {
		states := maps.Clone(forks[b.fork])
		slices.Reverse(b.own)
		if _, err := foldCommits(ctx, tx, mdl, b.own, states, nil); err != nil {
			var re *model.RuleError
			if errors.As(err, &re) {
				what := "branch " + shortBranch(b.name)
				if tag, ok := strings.CutPrefix(b.name, refs.TagsPrefix); ok {
					what = "tag " + tag
				}
				return fmt.Errorf("the model does not fold the history of %s: %w", what, err)
			}
			return err
		}
	}
	return nil
}

// refresh catches up with other processes.
func (r *Repository) refresh() error {
	if err := r.st.Refresh(); err != nil {
		return err
	}
	return nil
}

// errDetached refuses a write that names no branch while HEAD is detached;
// it matches ErrInvalid.
var errDetached error = &invalidError{msg: "HEAD is detached; name a branch with -b (Branch in the library's options)"}
