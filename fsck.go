package evgit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/store"
)

// FsckOptions tune Fsck.
type FsckOptions = fsck.Options

// FsckReport is what Fsck found; its JSON is `evgit fsck --json`.
type FsckReport = fsck.Report

// FsckProblem is one thing Fsck found wrong.
type FsckProblem = fsck.Problem

// Fsck checks the whole repository: every object against its ID and its
// encoding, every link between objects, the invariants of commits (offset
// and time against the first parent), every ref and reflog entry, the
// snapshot and idempotency records, and the checksums of every log file.
// Problems found are in the report (OK is false); the error is for a check
// that could not run. It does not fold the events again to check each
// snapshot's states: VerifySnapshots does (`evgit fsck --snapshots`).
func (r *Repository) Fsck(ctx context.Context, opts FsckOptions) (*FsckReport, error) {
	// The saved line index is checked beside the rest, on a goroutine of
	// its own: a walk of its line, which reads no file fsck.Run does not.
	type cacheCheck struct {
		p   *FsckProblem
		err error
	}
	lineCache := make(chan cacheCheck, 1)
	go func() {
		p, err := r.checkLineCache(ctx, false)
		lineCache <- cacheCheck{p, err}
	}()
	rep, err := r.fsckSettled(ctx, opts)
	lc := <-lineCache
	if err != nil {
		return nil, err
	}
	if errors.Is(lc.err, errCatchUp) {
		// Saved by another process at a commit this one had not read:
		// looked at again now, having caught up, not beside the
		// object pass, which the catching up (a write lock) would stop.
		lc.p, lc.err = r.checkLineCache(ctx, true)
	}
	if lc.err != nil {
		return nil, lc.err
	}
	if lc.p != nil {
		rep.OK = false
		rep.Problems = append(rep.Problems, *lc.p)
	}
	return rep, nil
}

// fsckSettled runs fsck.Run until a run is clean or the file set did not
// change under it.
func (r *Repository) fsckSettled(ctx context.Context, opts FsckOptions) (*FsckReport, error) {
	var rep *FsckReport
	// fsck lists and opens the log folder's files by name: a seal, an
	// index merge or a gc of another process meanwhile (they advance the
	// layout generation) can take a file away under it, which reads as
	// damage that is not there. A run that found problems while the file
	// set changed, or a file it listed gone, is run again, on the new one
	// (found by a helper's audit: 19 of 20 runs beside a gc reported a
	// segment missing).
	for try := 1; ; try++ {
		gen := r.st.LayoutGeneration()
		if err := r.refresh(); err != nil {
			return nil, err
		}
		var err error
		if rep, err = fsck.Run(ctx, r.st, opts); err != nil {
			return nil, err
		}
		settled := r.st.LayoutGeneration() == gen && rep.Vanished == 0
		if rep.OK || settled {
			break
		}
		if try == fsckTries {
			// Problems that every run found while files changed under
			// it may be no more than that: an error, not a report of
			// damage that may not be there (fsck exits 1 either way).
			return nil, fmt.Errorf("the repository's files changed under each of %d runs of fsck (a gc, a seal or an index merge in another process), and the last run's findings may come from that (%d problems, the first: %s); run fsck again when it is quieter", fsckTries, len(rep.Problems), rep.Problems[0])
		}
	}
	return rep, nil
}

// errCatchUp is checkLineCache's answer, without catchUp, for a file
// saved at a commit this process has not read yet.
var errCatchUp = errors.New("the line cache names a commit not read yet")

// fsckTries is how many times Fsck runs while the file set keeps
// changing under it.
const fsckTries = 5

// checkLineCache compares the saved line index, if there is one that
// reads, with the index a walk of its line builds from the commits: the
// file is derived data, and a wrong one would answer a log of one stream
// or a fold without snapshots wrongly, not fail. A file saved at a commit
// this process has not read yet is looked at after catching up, with
// catchUp; without, the error is errCatchUp.
func (r *Repository) checkLineCache(ctx context.Context, catchUp bool) (*FsckProblem, error) {
	li := &r.derived().line
	if li.cache == "" {
		return nil, nil
	}
	problem := func(format string, args ...any) *FsckProblem {
		return &FsckProblem{Kind: fsck.KindCache, Name: filepath.ToSlash(lineCacheName), Message: fmt.Sprintf(format, args...) + "; remove it (derived data)"}
	}
	b, err := pack.ReadRegular(li.cache)
	if errors.Is(err, pack.ErrCorrupt) {
		return problem("%v", err), nil // not a regular file
	}
	if err != nil {
		return nil, nil
	}
	saved, err := decodeLineCache(b)
	if err != nil {
		return problem("%v", err), nil
	}
	tip := saved.ids[len(saved.ids)-1]
	if !r.st.Has(tip) {
		// Saved by another process after this one read the log, at a
		// commit it has not seen yet (a helper's audit found fsck
		// reporting such a file): look again once caught up.
		if !catchUp {
			return nil, errCatchUp
		}
		if err := r.refresh(); err != nil {
			return nil, err
		}
	}
	walked := &lineIndex{}
	if _, err := walked.coverWithin(ctx, r.st, tip, 0); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return problem("its last commit %s: %v", tip.Short(), err), nil
	}
	if why := sameLine(saved, walked); why != "" {
		return problem("differs from the history of %s: %s", tip.Short(), why), nil
	}
	return nil, nil
}

// sameLine says how a saved line index differs from one built by a walk,
// or "" when it does not.
func sameLine(saved *savedLine, walked *lineIndex) string {
	switch {
	case !slices.Equal(saved.ids, walked.ids):
		return "the commits"
	case !slices.Equal(saved.offsets, walked.offsets):
		return "the offsets"
	case !slices.Equal(saved.times, walked.times):
		return "the times"
	case !slices.Equal(saved.merges, walked.merges):
		return "the merges"
	case len(saved.streams) != len(walked.streams):
		return fmt.Sprintf("%d streams, not %d", len(saved.streams), len(walked.streams))
	}
	for name, sl := range walked.streams {
		got := saved.streams[name]
		if got == nil || len(got.events()) != len(sl.events()) {
			return "the events of " + name
		}
		for i, ref := range sl.events() {
			if got.refs[i].pos != ref.pos || got.refs[i].idx != ref.idx {
				return "the events of " + name
			}
		}
	}
	return ""
}

// FsckDamaged checks a repository that damage keeps Open from opening
// (the folder gitDir, as FindGitDir gives it): it opens the storage past
// the damaged frames, read only, and checks what is left as Fsck does. The
// report lists each damaged frame, and the objects that something still
// names but that only a damaged frame held (a commit's events, a ref's
// commit) as missing. The error is for a repository it cannot open even
// so.
func FsckDamaged(ctx context.Context, gitDir string, opts FsckOptions) (*FsckReport, error) {
	st, err := store.Open(gitDir, store.Options{Salvage: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	rep, err := fsck.Run(ctx, st, opts)
	if err != nil {
		return nil, err
	}
	skipped := st.Salvaged()
	for _, p := range skipped {
		if p.Offset < 0 { // a whole file left out; a frame, the log check reports
			rep.Problems = append(rep.Problems, FsckProblem{Kind: fsck.KindIndex, Name: p.File, File: p.File, Message: p.Err.Error()})
		}
	}
	if len(skipped) > 0 {
		rep.OK = false
		files := 0
		for _, p := range skipped {
			if p.Offset < 0 {
				files++
			}
		}
		var what []string
		if files > 0 {
			what = append(what, plural(files, "damaged index file"))
		}
		if frames := len(skipped) - files; frames > 0 {
			what = append(what, plural(frames, "damaged frame"))
		}
		p := FsckProblem{Kind: "repository", Message: fmt.Sprintf("does not open: skipped %s; checked what the rest holds", strings.Join(what, " and "))}
		rep.Problems = append([]FsckProblem{p}, rep.Problems...)
	}
	return rep, nil
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
