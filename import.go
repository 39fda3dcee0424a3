package evgit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Branch string // short branch name; "" means the branch HEAD names
	Batch  int    // events per commit for lines without a commit header; 0 means 1
	Actor  string // commit actor for lines without a commit header
	// Progress, when set, is called after each write of the import,
	// with the events done so far (written durably, or found written by
	// an earlier run and skipped) and the total. A write holds up to
	// 1,000 commits, 10,000 events or 64 MiB of input lines (a larger
	// commit is a write of its own), made durable with one sync; it is
	// not the Batch of events per commit.
	Progress func(done, total int)

	renames *importRenames // set by Import
	hold    *importHold    // set by Import
	now     time.Time      // the time of commits the input gives none; set by Import
	unborn  bool           // Branch is the unborn branch HEAD named when Import started
}

// ImportResult summarizes an import; its JSON is `evgit import --json`.
type ImportResult struct {
	// Commits is the number of commits this import wrote; those skipped
	// are not counted.
	Commits int `json:"commits"`
	// Events is the number of events in the commits written.
	Events int `json:"events"`
	// Head is the commit the import left the branch at: its last commit
	// landed, or, when every commit was on the branch already, the
	// branch's head.
	Head    object.ID `json:"head"`
	Skipped int       `json:"-"` // commits already on the branch; not in the JSON of SPEC §3
	// Renames maps each ID a commit header named to the other ID its
	// commit was built with: the input was imported onto other history
	// than it was exported from, or it is not an export of a whole line
	// (a range's, a stream's, an edited one, or one cut inside a commit,
	// whose last commit is then built with fewer events). Empty when
	// every header's commit kept its ID. Not in the JSON of SPEC §3.
	Renames map[object.ID]object.ID `json:"-"`
	// RenamedAt maps each ID of Renames to the input line its commit
	// starts at. Not in the JSON of SPEC §3.
	RenamedAt map[object.ID]int `json:"-"`
	// Renamed lists each commit built with another ID than its header
	// names, in input order: more than Renames holds when the input
	// names one ID for several commits (two exports of one history's
	// streams, one after the other), where Renames keeps the last. Not in
	// the JSON of SPEC §3.
	Renamed []Rename `json:"-"`
}

// Rename is a commit an import built with another ID than its header
// names.
type Rename struct {
	Declared object.ID // the ID the header names
	Built    object.ID // the ID the commit got
	Line     int       // the input line the commit starts at
}

// Transaction bounds of import: a batch ends after this many commits,
// events or bytes of input lines, whichever comes first (a commit larger
// than the bytes alone is a batch of its own). Deterministic in the
// input, so a rerun of an interrupted import cuts the same batches and
// skips those that landed. The bytes keep a batch well inside what a
// frame may hold (pack.MaxFramePayload): a thousand lines of a megabyte
// each made a transaction the store refuses. Variables so tests can make
// them small.
var (
	importBatchCommits = 1000
	importBatchEvents  = 10000
	importBatchBytes   = 64 << 20
)

// lineBytes returns the bytes of a commit's input lines.
func lineBytes(g importGroup) int {
	n := 0
	for i := range g.events {
		n += len(g.events[i].raw)
	}
	return n
}

type importGroup struct {
	events []preparedEvent
	header *CommitHeader
	line   int // the input line it starts at, which errors about it name
}

// Import appends the events read from r as commits of opts.Batch events
// each, or as the commits that export's headers describe. Every line is
// checked, and with a model every event is folded, before anything is
// written: a bad line or a refused event writes nothing. Batches already
// imported onto the branch (an interrupted import run again) are skipped,
// and not folded: the branch holds them.
//
// The check runs under the repository's write lock, which other writers
// (in any process) wait for. An input that may not be all there (not an
// *os.File of a regular file, nor a *bytes.Reader, *strings.Reader or
// *bytes.Buffer) is first read and parsed without the lock while its
// producer writes slowly, to its end, its first bad line or 4 MiB of
// lines; past that, or from a fast producer, the rest is read under the
// lock: feed Import a longer input that is all there (a file, a
// finished pipe) rather than one a slow producer writes. A branch
// that does not exist, or a detached HEAD with no Branch, is refused
// before anything is read (ErrNotFound, ErrInvalid). Reads, of this Repository and of other
// processes, go on meanwhile and see the history as it was before the
// import.
// Cancelling ctx stops it at once, writing nothing it had not already
// made durable. A read of in that is blocked at that moment is left to
// finish on a goroutine of Import's, which may call Read once more
// before it stops: close in, or let it reach its end, rather than read
// it again yourself. An error that stops the import once some of its
// commits landed returns them with it (Commits, Events, Head: what the
// branch holds of the input so far; Skipped as far as it went), and no
// result when none did: run the import again to finish it. A read that
// fails is reported as such ("reading the input: ..."), never as a bad
// line.
func (r *Repository) Import(ctx context.Context, in io.Reader, opts ImportOptions) (*ImportResult, error) {
	switch {
	case opts.Batch < 0:
		return nil, invalidf("batch %d: want a number >= 1, or 0 for 1", opts.Batch)
	case opts.Batch == 0:
		opts.Batch = 1
	}
	if err := checkActor(opts.Actor); err != nil {
		return nil, err
	}
	opts.renames = &importRenames{}
	opts.hold = &importHold{st: r.st}
	opts.now = now()
	defer opts.hold.close()
	if err := r.Flush(ctx); err != nil {
		return nil, err
	}
	// Refs as they are now: another process may have made the branch.
	if err := r.refresh(); err != nil {
		return nil, err
	}
	if opts.Branch == "" {
		// The branch HEAD names now takes every batch, as a commit takes
		// the branch HEAD names when it starts: a checkout elsewhere
		// during the import must not send its later batches there.
		if _, target, _ := r.st.Resolve(refs.HEAD); target != "" && shortBranch(target) != target {
			opts.Branch = shortBranch(target)
			_, exists := r.st.Ref(target)
			opts.unborn = !exists
		}
	}
	// A branch that is not there, or a detached HEAD, is said now, not
	// once a pipe's producer has written its input (the check under the
	// lock says it again, should it change meanwhile).
	if _, err := r.branchRef(r.st, opts.Branch); err != nil {
		return nil, err
	}
	mdl, mdlID, err := r.model()
	if err != nil {
		return nil, err
	}
	chunks, stopParse := parseAhead(ctx, in, mdl, opts.Actor)
	defer stopParse()
	if !allThere(in) {
		var stopSpool func()
		var err error
		if chunks, stopSpool, err = spoolChunks(ctx, chunks); err != nil {
			return nil, err
		}
		defer stopSpool()
	}
	// Fold everything first: a refused event must refuse the import
	// before its first batch lands, and the fold feeds the snapshot
	// builder. Meanwhile the batches folded are built and compressed,
	// in memory; they are written once the whole input is through, and
	// trust the fold as long as nobody else moved the branch meanwhile.
	var prep *preparer
	stopPreparing := func() {
		if prep != nil {
			prep.stop()
		}
	}
	defer func() { stopPreparing() }()
	dry, err := r.dryRun(ctx, chunks, opts, mdl, mdlID, func(t *trustedFold) *preparer {
		prep = r.startPreparing(opts, mdl, mdlID, t)
		return prep
	})
	batches, total, trust := dry.batches, dry.total, dry.trust
	if trust != nil && trust.plan != nil {
		defer trust.plan.b.stop()
	}
	if err != nil {
		return nil, err
	}
	if total == 0 {
		return nil, fmt.Errorf("%w: no events in the input", ErrNothingToCommit)
	}
	res := &ImportResult{}
	if dry.wholeLanded {
		// Every line landed before, cut into other commits: the branch's
		// head, as for an import whose commits all landed.
		res.Skipped = batches[len(batches)-1].end
		if head, err := r.Resolve(ctx, branchOrHead(opts.Branch)); err == nil {
			res.Head = head
		}
		return res, nil
	}
	// landed returns an error with what landed before it, if anything did.
	landed := func(err error) (*ImportResult, error) {
		if res.Commits == 0 {
			return nil, err
		}
		return res, err
	}
	var line lineSet
	done := 0
	// distrust drops the fold once the branch is not where it left it:
	// the preparer and the builder stop, and the batches left go through
	// the transaction, folding again.
	distrust := func() {
		dropTrust(&trust)
		r.forgetHeads()
		stopPreparing()
		prep = nil
	}
	for i := range batches {
		b := &batches[i]
		progress := func() {
			opts.hold.dropLines(b) // landed: needed no more
			b.groups = nil
			done += b.events
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		}
		if b.landed && trust != nil {
			// Found on the branch by the dry run, which did not fold it:
			// skipped, if the branch is still where the fold left it.
			unmoved, err := r.unmoved(ctx, opts, trust)
			if err != nil {
				return landed(err)
			}
			if unmoved {
				res.Skipped += b.end - b.start
				res.Head = b.last
				progress()
				continue
			}
			distrust()
		}
		if prep != nil && !b.landed {
			p, ok := prep.out.pop()
			if !ok {
				// The dry run gave the preparer no more: this batch's
				// commit headers have idempotency keys, which need the
				// store. It and the next are built in the transaction,
				// on the fold still trusted. The preparer is gone.
				prep = nil
			} else if err := r.writePrepared(ctx, p, opts, mdlID, trust, res); err == nil {
				progress()
				continue
			} else if !errors.Is(err, errRetryUntrusted) {
				return landed(err)
			} else {
				// Someone else wrote meanwhile, the batch landed before,
				// or it could not be built. The preparer has taken
				// snapshots ahead from the builder, whose trees build on
				// batches never written: the fold is trusted no more.
				distrust()
			}
		}
		groups, specs, err := b.commits(mdl, opts)
		if err != nil {
			return landed(err)
		}
		endsInput := i == len(batches)-1
		err = r.importBatch(ctx, groups, specs, b.pos, opts, mdl, mdlID, res, &trust, &line, endsInput)
		if errors.Is(err, errRetryUntrusted) {
			// The branch is not what the dry run folded on: fold again.
			distrust()
			err = r.importBatch(ctx, groups, specs, b.pos, opts, mdl, mdlID, res, &trust, &line, endsInput)
		}
		if err != nil {
			r.forgetHeads()
			return landed(err)
		}
		progress()
	}
	// The fold's head is kept once a batch of it landed: landing took the
	// head it forked from out of r.heads, so flattening into that one
	// changes nothing another writer can see. With nothing landed, that
	// head is still kept, and still right, and other writers use it.
	if trust != nil && trust.head == res.Head && res.Commits > 0 && trust.final.settleLive() == nil {
		final := trust.final.flatten()
		final.head, final.offset, final.time = trust.head, trust.offset, trust.time
		if final.snap != nil && trust.plan != nil {
			final.snap.root = trust.plan.root
		}
		r.keepHead(trust.branchRef, final, mdlID)
	}
	// An import that landed commits names its last one: the branch's
	// head as it left it, whatever another writer, waiting for the lock,
	// added since. One that found every commit on the branch already
	// names the branch's head, which may be ahead of the last it found.
	if afterImportLanded != nil {
		afterImportLanded()
	}
	if res.Commits == 0 {
		if head, err := r.Resolve(ctx, branchOrHead(opts.Branch)); err == nil {
			res.Head = head
		}
	}
	// The input landed whole: said by its lines alone (import-whole), so
	// that an import of them again with another --batch finds them. A
	// transaction of its own, one more sync an import: a crash before
	// it, or a cancel, loses only this, and the import has landed all
	// the same (a review found a cancel here reported as the import's
	// failure). A run that wrote nothing, every batch on the branch,
	// puts the key back when it is missing, as the run that wrote the
	// last batch may have been killed before it (a review: without it,
	// an import with another --batch wrote everything twice); recorded
	// once, a later run finds it.
	at := res.Head
	if res.Commits == 0 {
		at = batches[len(batches)-1].last
	}
	if !at.IsZero() && ctx.Err() == nil {
		err := r.st.Update(ctx, func(tx *store.Tx) error {
			if res.Commits == 0 {
				branchRef, err := r.importBranchRef(tx, opts)
				if err != nil {
					return err
				}
				head, _, _ := tx.Resolve(branchRef)
				var line lineSet
				if l, _, err := keyLanded(tx, branchRef, head, wholeKey(dry.whole), &line); err != nil || !l.IsZero() {
					return cmp.Or(err, errDryRun)
				}
				if on, err := line.has(tx, head, at); err != nil || !on {
					return cmp.Or(err, errDryRun)
				}
			}
			tx.PutIdempotency("", wholeKey(dry.whole), at, dry.whole)
			return nil
		})
		if err != nil && !errors.Is(err, errDryRun) && ctx.Err() == nil {
			return landed(err)
		}
	}
	res.Renames, res.RenamedAt = maps.Clone(opts.renames.ids), maps.Clone(opts.renames.lines)
	res.Renamed = opts.renames.inOrder()
	// A bulk import leaves up to SealObjects objects in the newest
	// segment, which every later open would scan: index them now.
	if res.Commits >= importSealMin {
		if _, err := r.st.Seal(importSealMin); err != nil {
			return landed(err)
		}
	}
	return res, nil
}

// importBranchRef is branchRef for an import: the unborn branch HEAD
// named when the import started takes it, also when HEAD has moved
// since (a checkout -b while a slow producer wrote the input), as long
// as no branch was born since. One born meanwhile may be that branch,
// born and deleted, or one whose path clashes with it (x against x/y):
// then the import is refused as before (a helper's review).
func (r *Repository) importBranchRef(tx *store.Tx, opts ImportOptions) (string, error) {
	name, err := r.branchRef(tx, opts.Branch)
	if errors.Is(err, ErrNotFound) && opts.unborn && len(tx.RefNames(refs.HeadsPrefix)) == 0 {
		full := refs.HeadsPrefix + opts.Branch
		if perr := refPathFree(tx, full, "branch", opts.Branch); perr != nil {
			return "", perr
		}
		return full, nil
	}
	return name, err
}

// afterImportLanded, when set (by tests), runs once an import's last
// batch has landed, before it reports its head.
var afterImportLanded func()

// importSealMin is the least commits after which an import seals the
// newest segment when it ends.
const importSealMin = 4096

// trustedFold is an import's fold done before writing: the states it
// ends in, and the head the batches must find for it to hold.
type trustedFold struct {
	branchRef string
	headOn    bool // HEAD pointed at the branch: its batches go into HEAD's reflog too
	final     *headState
	head      object.ID // the head the next batch must find
	offset    uint64
	time      time.Time
	links     linkState // the skip links behind the import's first commit
	plan      *snapshotPlan
	// packLoads is the store's Tx.PackLoads() when the fold was done: the
	// trees the fold plans build on nodes the store held then, and a gc
	// since may have dropped some (found by a helper's audit: an import
	// wrote trees whose children a gc --prune=now between its batches
	// had removed).
	packLoads uint64
}

// preparedBatch is a trusted batch built, without the store's lock, in a
// detached transaction whose payload is compressed already.
type preparedBatch struct {
	tx      *store.Tx
	head    object.ID // its last commit
	offset  uint64
	time    time.Time
	commits int
	events  int
	held    int // bytes the import's hold counts for it
	err     error
}

// preparer builds an import's batches, in order, on a goroutine of its
// own, each on the head the previous one ends at, as importBatch would
// build them on a trusted fold, while the dry run folds the batches
// after. The goroutine reads nothing from the store: the skip links
// behind the first commit come from the dry run, the snapshot trees from
// the builder. The batches wait in memory, compressed, for the dry run
// to end and the writes to take them.
type preparer struct {
	in     *queue[batchWork]
	out    *queue[preparedBatch]
	plan   *snapshotPlan
	exited chan struct{}
	once   sync.Once
}

// batchWork is a batch the dry run folded: its commits, their options,
// and its place in the input.
type batchWork struct {
	groups []importGroup
	specs  []AppendOptions
	pos    spanPos
	size   int // bytes of input lines
}

// importQueueMax bounds the input lines, in bytes, of the batches the
// dry run folded and the preparer has yet to build: the dry run folds
// faster than batches are built, and each batch waiting holds its parsed
// events. The 100k-event import (14 MB) never reaches it. The bound gives
// way while the preparer waits for a tree whose boundary the dry run has
// yet to fold (trees are kept importSnapshotStride × snapshot_every events apart, so
// with snapshots far apart that can be many batches ahead). A variable
// so tests can make it small.
var importQueueMax = 16 << 20

func (r *Repository) startPreparing(opts ImportOptions, mdl *model.Model, mdlID object.ID, t *trustedFold) *preparer {
	p := &preparer{in: newQueue[batchWork](), out: newQueue[preparedBatch](), plan: t.plan, exited: make(chan struct{})}
	// The dry run waits for the preparer while the batches waiting
	// weigh importQueueMax, unless the preparer waits on the builder for
	// a tree and the builder waits on the dry run for boundaries, with
	// no tree on its way to the preparer.
	idle := func() bool { return false }
	if plan := t.plan; plan != nil {
		plan.starve = p.in.starve
		idle = func() bool { return plan.b.queue.isWaiting() && len(plan.b.out) == 0 }
		plan.b.queue.setOnWait(p.in.wake)
	}
	p.in.bound(importQueueMax, func(b batchWork) int { return b.size }, idle)
	hs := &headState{head: t.head, offset: t.offset, time: t.time, streams: map[string]streamState{}, links: t.links}
	go func() {
		defer close(p.exited)
		defer p.out.close()
		defer p.in.drop() // a dry run waiting to push goes on
		defer func() {
			peak := p.in.peakHeld()
			opts.hold.note(func(s *importStats) { s.queuePeak = max(s.queuePeak, peak) })
		}()
		for {
			b, ok := p.in.pop()
			if !ok {
				return
			}
			tx := r.st.Detached()
			tx.AssumeHead(t.branchRef, t.headOn)
			w := &commitWriter{r: r, tx: tx, mdl: mdl, mdlID: mdlID, hs: hs, trusted: true, plan: t.plan, renames: opts.renames, now: opts.now}
			events, _, err := w.writeBatch(b.groups, b.specs, t.branchRef, opts.Actor, b.pos)
			held := 0
			if err == nil {
				tx.Seal()
				// Not set aside: the batch is built again from its lines.
				held, err = opts.hold.holdFrame(tx)
			}
			p.out.push(preparedBatch{tx: tx, head: hs.head, offset: hs.offset, time: hs.time, commits: len(b.groups), events: events, held: held, err: err})
			if err != nil {
				return
			}
		}
	}()
	return p
}

// stop ends the preparer and waits for it: it shares the snapshot plan,
// which nobody else may use before it is gone. The builder is stopped
// first, which unblocks it; the batches it built are dropped.
func (p *preparer) stop() {
	p.once.Do(func() {
		p.in.drop()
		if p.plan != nil {
			p.plan.b.stop()
		}
		<-p.exited
		p.out.drop()
	})
}

// writePrepared writes a prepared batch if the branch is still where the
// fold left it and the batch did not land before; errRetryUntrusted
// when it is not written for either reason, or was not prepared.
func (r *Repository) writePrepared(ctx context.Context, p preparedBatch, opts ImportOptions, mdlID object.ID, t *trustedFold, res *ImportResult) error {
	defer opts.hold.release(p.held) // written or dropped: it goes either way
	if p.tx == nil || p.err != nil {
		return errRetryUntrusted
	}
	err := r.st.UpdatePrepared(ctx, p.tx, func(tx *store.Tx) error {
		if err := modelUnmoved(tx, mdlID); err != nil {
			return err
		}
		branchRef, err := r.importBranchRef(tx, opts)
		if err != nil {
			return err
		}
		if branchRef != t.branchRef || tx.PackLoads() != t.packLoads {
			// Another branch, or a gc since the dry run: its trees may
			// build on nodes the gc dropped.
			return errRetryUntrusted
		}
		// The branch is where the dry run found the batch not landed
		// (else the write is refused, ErrConflict): it still is not.
		return nil
	})
	if errors.Is(err, refs.ErrConflict) {
		return errRetryUntrusted
	}
	if err != nil {
		return err
	}
	r.landedTrusted(t, p.head, p.offset, p.time)
	res.Commits += p.commits
	res.Events += p.events
	res.Head = p.head
	return nil
}

// unmoved reports whether the import's branch is still the one the fold
// saw, at the head the fold and the batches written since left it.
func (r *Repository) unmoved(ctx context.Context, opts ImportOptions, t *trustedFold) (bool, error) {
	unmoved := false
	err := r.st.Update(ctx, func(tx *store.Tx) error {
		branchRef, err := r.importBranchRef(tx, opts)
		if err != nil {
			return err
		}
		head, _, _ := tx.Resolve(branchRef)
		unmoved = branchRef == t.branchRef && head == t.head
		return nil
	})
	return unmoved, err
}

// landedTrusted notes that a trusted batch landed, ending at head. The
// fold was done before; the batch's states are not tracked, so the
// branch's cached head is dropped and set once the import ends.
func (r *Repository) landedTrusted(t *trustedFold, head object.ID, offset uint64, at time.Time) {
	t.head, t.offset, t.time = head, offset, at
	r.mu.Lock()
	delete(r.heads, t.branchRef)
	r.mu.Unlock()
}

// dropTrust forgets a dry run that no longer holds, stopping its
// snapshot builder.
func dropTrust(t **trustedFold) {
	if *t != nil && (*t).plan != nil {
		(*t).plan.b.stop()
	}
	*t = nil
}

// branchOrHead is the revision an import's branch resolves as: the
// branch's full ref, or HEAD when the import names none.
func branchOrHead(b string) string {
	if b == "" {
		return "HEAD"
	}
	return refs.HeadsPrefix + b // a tag of the same name is not the branch
}

// modelUnmoved refuses to write an import's batch once the model is not
// the one its events were folded and checked under: a model set during
// the import. The batches written stay; run again, the import skips them
// and folds the rest under the new model.
func modelUnmoved(tx *store.Tx, mdlID object.ID) error {
	if v, _ := tx.Ref(refs.Model); v.ID != mdlID {
		return conflictf("the model changed during the import (model set); run the import again: the batches written are skipped")
	}
	return nil
}

// idsOnLine returns how many commits at the start of groups have a
// header id naming a commit on the first-parent line of head that holds
// the input's commit's events (all of them, or the part of them an
// export of one stream, or one cut inside the commit, holds), and the
// last one. A commit named on the line that holds other events (an input
// edited since it was exported) is refused, and so is the first commit
// not on the line when head, right after the last, is it written short
// (refuseShort).
func idsOnLine(rd reader, head object.ID, groups []importGroup, line *lineSet) (int, object.ID, error) {
	var last object.ID
	for k, g := range groups {
		var id object.ID
		if g.header != nil {
			id, _ = object.ParseID(g.header.ID)
		}
		on := false
		if !id.IsZero() {
			var err error
			if on, err = line.has(rd, head, id); err != nil {
				return 0, last, err
			}
		}
		if on {
			c, err := readCommit(rd, id)
			if err != nil {
				return 0, last, err
			}
			// The commit named is on the branch, so its events are: the
			// input's commit must hold them all, or the part of them an
			// export of one stream, or one cut inside the commit, holds
			// (holdsSome; such an export keeps the IDs of the commits it
			// took some events of), and is skipped. Anything else is an edited export,
			// refused: skipped, the edit was lost without a word, and
			// written anew, the events the commit has were written
			// twice (helpers' audits).
			held, err := holds(rd, c, g)
			if err == nil && !held && len(g.events) < len(c.Events) {
				held, err = holdsSome(rd, c, g)
			}
			if err != nil {
				return 0, last, err
			}
			if !held {
				return 0, last, invalidf("line %d: commit %s is on the branch, but this input's commit of that id differs from it (an edited export?); drop its \"id\" to add it as a new commit", g.line, id.Short())
			}
		}
		if !on {
			if !id.IsZero() {
				if err := refuseShort(rd, head, last, id, g); err != nil {
					return 0, last, err
				}
			}
			return k, last, nil
		}
		last = id
	}
	return len(groups), last, nil
}

// refuseShort refuses the input's commit g, whose header names id, when
// an earlier import of a copy of the input cut inside it wrote it short:
// head comes right after last, the input's commit before g (zero: none),
// and holds the first of g's events under g's header. Written on top of
// head, the events head holds would be there twice (a helper's audit).
func refuseShort(rd reader, head, last, id object.ID, g importGroup) error {
	if head.IsZero() || head == last {
		return nil
	}
	c, err := readCommit(rd, head)
	if err != nil {
		return err
	}
	if c.Parent() != last || len(c.Events) >= len(g.events) {
		return nil
	}
	// head is the input's commit cut after its first len(c.Events).
	cut := g
	cut.events = g.events[:len(c.Events)]
	if ok, err := holds(rd, c, cut); err != nil || !ok {
		return err
	}
	return invalidf("line %d: commit %s was imported before from a copy of this input cut inside it, as %s with %d of its %d events; imported whole now, those would be there twice: drop its \"id\" and the lines of its first %d events to add the rest", g.line, id.Short(), head.Short(), len(c.Events), len(g.events), len(c.Events))
}

// stream returns the stream of all the group's events, or "" when they
// are of several.
func (g importGroup) stream() string {
	stream := g.events[0].in.Stream
	for _, pe := range g.events[1:] {
		if pe.in.Stream != stream {
			return ""
		}
	}
	return stream
}

// importBatch writes one batch of commits in one transaction, less those
// at its start that landed on the branch already (findLanded): an
// import of the same input, run before or running beside this one, may
// have written them since the dry run looked.
//
// endsInput says the batch is the input's last (findLanded).
func (r *Repository) importBatch(ctx context.Context, groups []importGroup, specs []AppendOptions, pos spanPos, opts ImportOptions, mdl *model.Model, mdlID object.ID, res *ImportResult, trust **trustedFold, line *lineSet, endsInput bool) error {
	return r.st.Update(ctx, func(tx *store.Tx) error {
		if err := modelUnmoved(tx, mdlID); err != nil {
			return err
		}
		branchRef, err := r.importBranchRef(tx, opts)
		if err != nil {
			return err
		}
		head, _, _ := tx.Resolve(branchRef)
		// Looking inside the batch for where an earlier import ended
		// costs a lookup a commit: only when the branch moved since the
		// dry run, which looked on the branch as it was, and only for a
		// batch with commits an earlier import may have retried for
		// their keys (a run that did records no start key; every other
		// run is found by its start key).
		moved := *trust == nil || (*trust).branchRef != branchRef || (*trust).head != head
		inner := moved && slices.ContainsFunc(groups, func(g importGroup) bool { return g.header != nil && g.header.IdempotencyKey != "" })
		found, err := findLanded(tx, branchRef, head, groups, pos, inner, endsInput, object.ZeroID, spanPos{}, line)
		if err != nil {
			return err
		}
		if found.k > 0 {
			if err := opts.renames.landed(tx, groups[:found.k], found.from, found.held, keyedOn(tx, branchRef, head, line)); err != nil {
				return err
			}
			res.Skipped += found.k
			res.Head = found.last
			dropTrust(trust)
			r.forgetHeads()
		}
		if found.k == len(groups) {
			return nil
		}
		groups, specs = groups[found.k:], specs[found.k:]
		hs, err := r.headFor(tx, branchRef, mdlID)
		if err != nil {
			return err
		}
		t := *trust
		if t != nil && (t.branchRef != branchRef || t.head != hs.head || tx.PackLoads() != t.packLoads) {
			t = nil
			dropTrust(trust)
			r.forgetHeads()
			if hs, err = r.headFor(tx, branchRef, mdlID); err != nil {
				return err
			}
		}
		w := &commitWriter{r: r, tx: tx, mdl: mdl, mdlID: mdlID, hs: hs.fork(), trusted: t != nil, renames: opts.renames, now: opts.now}
		if t != nil {
			w.plan = t.plan
		}
		events, commits, err := w.writeBatch(groups, specs, branchRef, opts.Actor, found.rest)
		if err != nil {
			return err
		}
		if t != nil {
			r.landedTrusted(t, w.hs.head, w.hs.offset, w.hs.time)
		} else {
			r.keepHead(branchRef, w.hs, mdlID)
		}
		res.Commits += commits
		res.Skipped += len(groups) - commits // retries of commits with keys
		res.Events += events
		res.Head = w.hs.head
		return nil
	})
}

// importDigest is the digest of a cut's commits: their events, and
// their commit headers, in input order.
func importDigest(groups []importGroup) object.ID {
	var d digester
	for _, g := range groups {
		d.addGroup(g)
	}
	return d.sum()
}

// addGroup hashes a commit of an import's input into its cut's digest:
// its events, then its header as a pseudo-event.
func (d *digester) addGroup(g importGroup) {
	d.add(g.events)
	if g.header != nil {
		h, _ := json.Marshal(g.header)
		d.add([]preparedEvent{{in: EventInput{Stream: "commit", Type: "header"}, data: h}})
	}
}

// writeBatch adds a batch's commits on the writer's head, moves the
// branch to the last one and records the input's prefix keys at its
// first and last commits (startKey, prefixKey) where they are not zero;
// it returns the events and commits added (a retry of a commit with a
// key adds none).
func (w *commitWriter) writeBatch(groups []importGroup, specs []AppendOptions, branchRef, actor string, pos spanPos) (events, commits int, err error) {
	start, end := pos.start, pos.end
	// Room for the batch: its events and commits, with their bodies, and
	// the next snapshot tree when it falls in the batch.
	objects, size := 0, 0
	for _, g := range groups {
		objects += len(g.events) + 1
		size += 150 + 32*len(g.events)
		events += len(g.events)
		for _, pe := range g.events {
			size += len(pe.data) + len(pe.in.Stream) + len(pe.in.Type) + 120
		}
	}
	if w.trusted && w.plan != nil {
		if next, err := w.plan.peek(); err == nil && next != nil && next.offset <= w.hs.offset+uint64(events) {
			objects += len(next.objs)
			for _, o := range next.objs {
				size += len(o.body) + 8
			}
		}
	}
	w.tx.Reserve(objects, size)
	old := w.hs.head
	events = 0
	var first object.ID // the first commit added (a retry adds none)
	for i, g := range groups {
		spec := specs[i]
		spec.Reverts = w.renames.apply(spec.Reverts)
		out, err := w.commit(g.events, spec, branchRef)
		if errors.Is(err, errRetryUntrusted) {
			return 0, 0, err
		}
		var reused *KeyReusedError
		if errors.As(err, &reused) && reused.Line == 0 && g.line > 0 {
			// A key another writer used since the dry run looked: said
			// as the dry run says it, by the line (a helper's audit saw
			// both forms for one race).
			reused.Line = g.line
			return 0, 0, err
		}
		if err != nil {
			return 0, 0, fmt.Errorf("commit %d of the batch: %w", i+1, err)
		}
		w.renames.note(g.header, g.line, out.Commit)
		if out.Duplicate && w.trusted {
			// The dry run folded events this commit does not add.
			return 0, 0, errRetryUntrusted
		}
		if !out.Duplicate {
			if commits == 0 {
				first = out.Commit
			}
			events += len(g.events)
			commits++
		}
	}
	if err := w.publish(branchRef, old, actor, "import"); err != nil {
		return 0, 0, err
	}
	if !end.IsZero() {
		w.tx.PutIdempotency("", prefixKey(end), w.hs.head, end)
	}
	if !start.IsZero() && commits > 0 {
		// Its value names the run's first commit added where a key's
		// digest goes: the run is read back from its last commit to
		// there (runHolds). A commit retried (its key found on the line)
		// is not in it.
		w.tx.PutIdempotency("", startKey(start), w.hs.head, first)
		// And by its first event alone: a shorter version of the input
		// that ends inside the run's first commit finds the run by it
		// (firstKey).
		w.tx.PutIdempotency("", firstKey(pos.firstDigest(groups[0])), w.hs.head, first)
	}
	return events, commits, nil
}

var errDryRun = errors.New("dry run")

// importBatchSpan is one batch of an import: its commits, the lines they
// were read from, its place in the input, and, when the branch had
// commits, whether it landed there already (an import run again).
type importBatchSpan struct {
	start, end int // its commits' numbers in the input, from 0
	events     int
	// Its commits, while the dry run holds them or when no preparer
	// takes them; raw are its lines, parsed again when the commits are
	// needed after the preparer dropped them (commits).
	groups []importGroup
	raw    [][]byte // a line each
	// rawHeld is what the import's hold counts for raw; once the lines
	// are set aside (importHold.holdLines), raw is nil and they are in
	// rawSpill at rawSpan.
	rawHeld  int
	rawSpill *store.Spill
	rawSpan  store.SpillSpan
	pos      spanPos
	landed   bool
	last     object.ID // the commit the landed batch ended at
	// starts are the input lines its commits start at, which the lines
	// parsed again do not know.
	starts []int
}

// commits returns the batch's commits and their options, parsing its
// lines again if the commits are gone: a batch built ahead and refused
// must be built again.
func (b *importBatchSpan) commits(mdl *model.Model, opts ImportOptions) ([]importGroup, []AppendOptions, error) {
	groups := b.groups
	if groups == nil {
		actor := opts.Actor // a batch starts a commit: a header, or none since the input began
		var slab []preparedEvent
		lines, err := b.lines()
		if err != nil {
			return nil, nil, fmt.Errorf("import: reading a batch again: %w", err)
		}
		for i, raw := range lines {
			var l InputLine
			if l, err = parseImportLine(trimJSONSpace(raw), mdl, &actor, opts.Actor); err != nil {
				err = fmt.Errorf("line %d of the batch: %w", i+1, err)
				break
			}
			groups = addToGroups(groups, l, opts.Batch, &slab)
		}
		if err == nil && len(groups) != b.end-b.start {
			err = fmt.Errorf("%d commits, not %d", len(groups), b.end-b.start)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("import: reading a batch again: %w", err)
		}
		for i := range groups {
			groups[i].line = b.starts[i]
		}
	}
	specs := make([]AppendOptions, len(groups))
	for i, g := range groups {
		var err error
		if specs[i], err = importSpec(g, opts.Actor); err != nil {
			return nil, nil, err
		}
	}
	return groups, specs, nil
}

// addToGroups adds a line to the commits read so far: a line with a
// commit header starts a commit, and so does a line without one when the
// last commit has no header and holds batch events already.
func addToGroups(groups []importGroup, l InputLine, batch int, slab *[]preparedEvent) []importGroup {
	switch {
	case l.Commit != nil:
		groups = append(groups, importGroup{header: l.Commit, line: l.Line})
	case len(groups) == 0 || (groups[len(groups)-1].header == nil && len(groups[len(groups)-1].events) >= batch):
		groups = append(groups, importGroup{line: l.Line})
	}
	g := &groups[len(groups)-1]
	pe := preparedEvent{in: l.Event, data: l.data, enc: l.enc, line: l.Line, raw: l.raw}
	if g.events != nil {
		g.events = append(g.events, pe)
		return groups
	}
	// A commit's first event goes in a slab shared with the commits read
	// with it: most commits hold one event, and one allocation serves
	// many. The commit's slice ends there, so its next event moves it.
	if len(*slab) == cap(*slab) {
		*slab = make([]preparedEvent, 0, parseChunkLines)
	}
	*slab = append(*slab, pe)
	k := len(*slab)
	g.events = (*slab)[k-1 : k : k]
	return groups
}

// dryRunResult is what an import's dry run read and folded.
type dryRunResult struct {
	batches []importBatchSpan
	total   int // events
	trust   *trustedFold
	// whole is the digest of the input's lines (wholeKey); wholeLanded,
	// that an import of the same lines landed whole on the branch before
	// (with another --batch, perhaps): nothing is to be written.
	whole       object.ID
	wholeLanded bool
}

// dryRun reads the parsed lines, groups them into commits, cuts the
// commits into batches and folds every event through the model, on the
// branch's head, without writing: a refused event refuses the import. A
// batch that already landed on the branch (an import run again) is not
// folded: the head holds it. Each batch folded goes to the preparer that
// start returns, if it returns one, which holds its commits from then
// on. A bad line wins over a refused event, whichever comes first, so
// the reading goes on after a refusal.
func (r *Repository) dryRun(ctx context.Context, chunks <-chan parsedChunk, opts ImportOptions, mdl *model.Model, mdlID object.ID, start func(*trustedFold) *preparer) (res dryRunResult, err error) {
	var parseErr error
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		if err := modelUnmoved(tx, mdlID); err != nil {
			return err
		}
		branchRef, err := r.importBranchRef(tx, opts)
		if err != nil {
			return err
		}
		hs, err := r.headFor(tx, branchRef, mdlID)
		if err != nil {
			return err
		}
		w := &commitWriter{r: r, tx: tx, mdl: mdl, mdlID: mdlID, hs: hs.fork(), dryRun: true, now: opts.now}
		w.absorbSnapshot()
		if err := w.hs.ensureTrack(w); err != nil {
			return err
		}
		t := &trustedFold{branchRef: branchRef, head: hs.head, offset: hs.offset, time: hs.time, packLoads: tx.PackLoads()}
		if v, ok := tx.Ref(refs.HEAD); ok && v.Symbolic == branchRef {
			t.headOn = true
		}
		res.trust = t
		first := &object.Commit{}
		if !hs.head.IsZero() {
			first.Parents = []object.ID{hs.head}
		}
		if t.links, err = w.linksBehind(first); err != nil {
			return err
		}
		if tr := w.hs.track(); tr != nil && mdl.SnapshotInterval() > 0 {
			b, err := r.newSnapBuilder(tx, tr.root, hs.offset, uint64(importSnapshotStride)*uint64(mdl.SnapshotInterval()))
			if err != nil {
				return err
			}
			t.plan = &snapshotPlan{b: b, root: tr.root}
		}
		var prep *preparer
		if t.links.known {
			prep = start(t)
		}
		var foldErr, specErr error
		offset := hs.offset
		// ftime is the time of the last commit folded or found landed:
		// each event folds with the meta its commit fills in (time and
		// actor), as the commit folds it, and a commit's time is moved
		// up to its parent's.
		ftime := hs.time
		// The meta of events that bring none, shared while the time and
		// actor stay (all of an input without times, mostly).
		var bare map[string]string
		var bareTime time.Time
		var bareActor string
		fold := func(g importGroup, o AppendOptions) error {
			at := o.Time
			if at.IsZero() {
				at = opts.now
			}
			at = at.UTC()
			if !ftime.IsZero() && at.Before(ftime) {
				at = ftime
			}
			ftime = at
			tt := timeText{t: at}
			if !at.Equal(bareTime) || o.Actor != bareActor {
				bare, bareTime, bareActor = nil, at, o.Actor
			}
			for _, pe := range g.events {
				schema := pe.in.Schema
				if schema == 0 {
					schema = mdl.LatestSchema(pe.in.Type)
				}
				var meta map[string]string
				meta, bare = filledMeta(pe.in.Meta, bare, &tt, o.Actor)
				if err := w.fold(pe.in.Stream, model.Event{Type: pe.in.Type, Schema: schema, Data: pe.data, Meta: meta}); err != nil {
					return fmt.Errorf("line %d: %w", pe.line, err)
				}
			}
			before := offset
			if offset > math.MaxUint64-uint64(len(g.events)) {
				return fmt.Errorf("%w: commit %s has offset %d, which leaves no room for the input's events", ErrCorrupt, hs.head.Short(), hs.offset)
			}
			offset += uint64(len(g.events))
			if t.plan == nil {
				return nil
			}
			return w.planBoundary(t.plan.b, before, offset)
		}
		// Only a branch with commits can hold batches of this input; on
		// an empty one each commit folds as soon as it is complete.
		checkLanded := !hs.head.IsZero()
		// rolling is the input's prefix digest at the end of the last cut
		// (prefixDigest); frontier, that no cut has failed to land yet.
		var rolling object.ID
		frontier := true
		ending := false         // the cut being closed is the input's last
		var cutErr error        // refuseCutInside's, said at the end
		var prevCut spanPos     // the cut before's place
		var cutLanded object.ID // the commit the cut before landed at
		var line lineSet
		wh := blake3.New() // the input's lines, for wholeKey
		_, _ = wh.WriteString("evgit import lines\x00")
		keys := importKeys{}
		named := namedIDs{}
		// groups are the commits read and not yet in a batch: the first
		// cut of them are in the batch being cut, and base is the
		// number of groups[0] in the input.
		var groups []importGroup
		var slab []preparedEvent
		cut, base := 0, 0
		openEvents, openBytes := 0, 0
		specs := make([]AppendOptions, 0, importBatchCommits)
		// closeCut closes the first cut commits as a batch placed in the
		// input at pos; landed, when its last is not zero, is where
		// findLanded found the batch landed (the commits holding it, for
		// importRenames.landed).
		closeCut := func(landed landedPart, pos spanPos) error {
			landedAt := landed.last
			b := importBatchSpan{start: base, end: base + cut, events: openEvents, groups: groups[:cut:cut], pos: pos}
			bspecs := specs
			n := 0
			b.starts = make([]int, len(b.groups))
			for i, g := range b.groups {
				n += len(g.events)
				b.starts[i] = g.line
			}
			// The lines stay in the buffers they were read into: a batch
			// keeps those it spans, and the parsed events let go of them.
			b.raw = make([][]byte, 0, n)
			size := 0
			for _, g := range b.groups {
				for i := range g.events {
					b.raw = append(b.raw, g.events[i].raw)
					size += len(g.events[i].raw)
					g.events[i].raw = nil
				}
			}
			groups = slices.Clone(groups[cut:])
			base, cut, openEvents, openBytes = base+cut, 0, 0, 0
			specs = make([]AppendOptions, 0, importBatchCommits)
			if checkLanded {
				b.landed, b.last = !landedAt.IsZero(), landedAt
				if b.landed {
					if err := opts.renames.landed(tx, b.groups, landed.from, landed.held, keyedOn(tx, branchRef, hs.head, &line)); err != nil {
						return err
					}
					c, err := readCommit(tx, landedAt)
					if err != nil {
						return err
					}
					// The next commits go on the branch's head, which may
					// be past a batch landed below it (one stream's export
					// of older commits): their times move up to the
					// later of the two (a review found the fold dated
					// its events with the older one, and the snapshot
					// held states the commits' events do not give).
					if c.Time.After(ftime) {
						ftime = c.Time
					}
				}
				for i, g := range b.groups {
					if foldErr == nil && !b.landed {
						foldErr = fold(g, bspecs[i])
					}
				}
			}
			switch {
			case b.landed:
				b.groups = nil // its lines stay, should the branch move before it is skipped
			case prep != nil && slices.ContainsFunc(bspecs, func(o AppendOptions) bool { return o.IdempotencyKey != "" }):
				// Idempotency keys need the store: this batch and the
				// next are built in the transaction, the preparer ends
				// with the batches it has.
				prep.in.close()
				prep = nil
			case prep != nil && foldErr == nil && specErr == nil:
				prep.in.push(batchWork{groups: b.groups, specs: bspecs, pos: b.pos, size: size})
				b.groups = nil // the preparer's now
			}
			if err := opts.hold.holdLines(&b); err != nil {
				return err
			}
			res.batches = append(res.batches, b)
			return nil
		}
		// closeBatch closes the batch being cut, landed when findLanded
		// finds it on the branch: an import of this input run before, or
		// of a longer or shorter version of it; or commits whose header
		// IDs are on the branch (SPEC: commits already on the branch are
		// skipped; an export imported again once its source moved on). A
		// batch only the first commits of which landed is split there:
		// those close as a landed batch, the rest as the next. The
		// batches are cut where they always are, so a run again cuts the
		// same ones.
		closeBatch := func() error {
			pos := cutPos(rolling, groups[:cut])
			rolling = pos.end
			if !checkLanded {
				return closeCut(landedPart{}, pos)
			}
			// Where an earlier import of a shorter version of the input
			// ended is looked for only while every cut before landed:
			// past one that did not, no earlier import of it reached.
			found, err := findLanded(tx, branchRef, hs.head, groups[:cut], pos, frontier, ending, cutLanded, prevCut, &line)
			var inside *cutInsideError
			if errors.As(err, &inside) && cutErr == nil {
				// Said once the input is read: it may have landed whole.
				cutErr, err = err, nil
				found = landedPart{rest: pos}
			}
			if err != nil {
				return err
			}
			k := found.k
			if k < cut {
				frontier = false
			}
			cutLanded, prevCut = found.last, pos // where the next cut goes on from, if this landed whole
			if k == 0 || k == cut {
				return closeCut(found, pos)
			}
			n, all, events, bytes := cut, specs, openEvents, openBytes
			head, headBytes := 0, 0
			for _, g := range groups[:k] {
				head += len(g.events)
				headBytes += lineBytes(g)
			}
			cut, specs, openEvents, openBytes = k, all[:k:k], head, headBytes
			if err := closeCut(found, spanPos{before: pos.before, head: pos.head, start: pos.start, end: found.at}); err != nil {
				return err
			}
			cut, openEvents, openBytes = n-k, events-head, bytes-headBytes
			specs = append(make([]AppendOptions, 0, importBatchCommits), all[k:]...)
			return closeCut(landedPart{}, found.rest)
		}
		// cutNext adds the next complete commit to the batch being cut,
		// closing the batch first when the commit does not fit.
		cutNext := func() error {
			g := groups[cut]
			gBytes := lineBytes(g)
			if cut > 0 && (cut >= importBatchCommits || openEvents+len(g.events) > importBatchEvents || openBytes+gBytes > importBatchBytes) {
				if err := closeBatch(); err != nil {
					return err
				}
			}
			o, err := importSpec(g, opts.Actor)
			if err == nil && o.IdempotencyKey != "" {
				err = keys.check(tx, mdl, branchRef, hs.head, &line, g.line, o, g.events)
			}
			if err == nil {
				err = checkHeaderID(g, named)
			}
			if specErr == nil {
				specErr = err
			}
			specs = append(specs, o)
			openEvents += len(g.events)
			openBytes += gBytes
			cut++
			if !checkLanded && foldErr == nil {
				foldErr = fold(g, o)
			}
			return nil
		}
		for {
			// The write lock is held while the input is read: a
			// cancelled import stops waiting for it at once.
			var c parsedChunk
			var more bool
			select {
			case c, more = <-chunks:
			case <-ctx.Done():
				return ctx.Err()
			}
			if !more {
				break
			}
			if c.err != nil {
				parseErr = c.err
				return c.err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			for _, l := range c.lines {
				res.total++
				_, _ = wh.Write(l.raw)
				groups = addToGroups(groups, l, opts.Batch, &slab)
			}
			recycleLines(c.lines) // copied into the commits
			// Cut the commits complete so far: all but the last.
			for cut < len(groups)-1 {
				if err := cutNext(); err != nil {
					return err
				}
			}
		}
		for cut < len(groups) {
			if err := cutNext(); err != nil {
				return err
			}
		}
		if cut > 0 {
			ending = true
			if err := closeBatch(); err != nil {
				return err
			}
		}
		wh.Sum(res.whole[:0])
		if checkLanded && len(res.batches) > 0 && !res.batches[len(res.batches)-1].landed {
			// Not found landed cut by cut, but perhaps whole: the cuts
			// of an import of the same lines with another --batch end
			// elsewhere (a helper's audit: an input of more than a
			// thousand commits imported again whole with another --batch
			// was written twice). Before the fold's refusals: those are
			// of the events on top of themselves.
			last, _, err := keyLanded(tx, branchRef, hs.head, wholeKey(res.whole), &line)
			if err != nil {
				return err
			}
			if !last.IsZero() {
				res.wholeLanded = true
				if prep != nil {
					prep.in.close()
				}
				if t.plan != nil {
					t.plan.b.close()
				}
				return errDryRun
			}
		}
		if cutErr != nil {
			return cutErr
		}
		if errors.Is(specErr, ErrInvalid) {
			// A bad commit header is a bad line, reported like the ones
			// the parser finds, even after an event was refused.
			return specErr
		}
		if err := cmp.Or(foldErr, specErr); err != nil {
			return err
		}
		if prep != nil {
			prep.in.close()
		}
		if t.plan != nil {
			t.plan.b.close()
		}
		t.final = w.hs
		return errDryRun
	})
	if parseErr != nil {
		err = parseErr
	}
	if errors.Is(err, errDryRun) {
		return res, nil
	}
	return dryRunResult{trust: res.trust}, err
}

// importKeys are the idempotency keys an import's commits carry, with
// the digest of each one's events, so that a key used again with other
// events, earlier in the input or on the branch, refuses the import in
// its dry run, before any batch is written.
type importKeys map[string]object.ID

// check records the key of the commit at an input line and refuses it
// when it was used with other events.
func (k importKeys) check(tx *store.Tx, mdl *model.Model, branchRef string, head object.ID, lines *lineSet, line int, spec AppendOptions, events []preparedEvent) error {
	key := spec.IdempotencyKey
	dig := digest(events, spec, mdl)
	if prev, ok := k[key]; ok {
		if prev != dig {
			return &KeyReusedError{Key: key, Line: line}
		}
		return nil
	}
	k[key] = dig
	prev, prevDig, ok, err := keyOnLine(tx, branchRef, head, key, lines)
	if err != nil || !ok || prevDig == dig {
		return err
	}
	if same, err := sameRequest(tx, prev, prevDig, dig, events, spec, mdl); err != nil || same {
		return err
	}
	return &KeyReusedError{Key: key, Commit: prev, Line: line}
}

// importRenames maps the IDs an import's headers name to the IDs their
// commits got, where the two differ: the input was exported from a
// history the import does not continue (it lands on a branch with other
// commits), or was edited. A commit of the input that reverts an earlier
// one names it by its header's ID, and must revert the commit it became.
// The preparer and, after it, the transaction build the commits in
// order, so a commit is noted before any later one reads the map.
type importRenames struct {
	mu    sync.Mutex
	ids   map[object.ID]object.ID
	lines map[object.ID]int // the input line each renamed commit starts at
	// byLine is every renamed commit by the line it starts at: an input
	// may name one ID for several commits, which ids keeps one of.
	byLine map[int]Rename
}

// inOrder returns the renamed commits in input order.
func (m *importRenames) inOrder() []Rename {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.byLine))
	slices.SortFunc(out, func(a, b Rename) int { return cmp.Compare(a.Line, b.Line) })
	return out
}

// note records the commit a header's commit became. A commit built again
// (the branch moved under a prepared batch) replaces what was noted.
func (m *importRenames) note(h *CommitHeader, line int, id object.ID) {
	if m == nil || h == nil || h.ID == "" {
		return
	}
	declared := id
	var hexID [2 * object.IDSize]byte
	hex.Encode(hexID[:], id[:])
	if h.ID != string(hexID[:]) {
		var err error
		if declared, err = object.ParseID(h.ID); err != nil {
			return // the dry run refused it
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case declared != id && m.ids == nil:
		m.ids = map[object.ID]object.ID{declared: id}
		m.lines = map[object.ID]int{declared: line}
		m.byLine = map[int]Rename{line: {Declared: declared, Built: id, Line: line}}
	case declared != id:
		m.ids[declared] = id
		m.lines[declared] = line
		m.byLine[line] = Rename{Declared: declared, Built: id, Line: line}
	default:
		delete(m.ids, declared)
		delete(m.lines, declared)
		delete(m.byLine, line)
	}
}

// apply returns reverts with each renamed ID replaced.
func (m *importRenames) apply(reverts []object.ID) []object.ID {
	if m == nil || len(reverts) == 0 {
		return reverts
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []object.ID
	for i, id := range reverts {
		if to, ok := m.ids[id]; ok {
			if out == nil {
				out = slices.Clone(reverts)
			}
			out[i] = to
		}
	}
	if out == nil {
		return reverts
	}
	return out
}

// landed notes the commits of a batch an earlier run wrote, which ends at
// last (from reading back, below). A commit's ID covers its parent's, so
// when the batch's last commit is the one its header names, so is every
// commit before it. Otherwise held, as findLanded found the batch, names
// the commit holding each of groups where it is known (zero where not),
// which is noted as it is. The others are read back from from, the
// commit an earlier import's prefix key named: a commit with an
// idempotency key is where its key names (the import may have retried
// it, a review of session 29 found: it is elsewhere on the line); a batch
// found by a prefix key may have been written by two imports with
// another writer's commits between, so a commit that does not hold its
// commit's events is passed over, up to landedSkipMax of them, after
// which the batch's remaining IDs are left unnoted (a later revert of one
// is then refused as naming no commit here, never pointed at another).
func (m *importRenames) landed(rd reader, groups []importGroup, from object.ID, held []object.ID, keyed func(key string) (object.ID, error)) error {
	declares := func(g importGroup) bool { return g.header != nil && g.header.ID != "" }
	if !slices.ContainsFunc(groups, declares) || groups[len(groups)-1].header != nil && groups[len(groups)-1].header.ID == from.String() {
		return nil
	}
	id := from // the next commit to read back
	skipped := 0
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if i < len(held) && !held[i].IsZero() {
			m.note(g.header, g.line, held[i])
			continue
		}
		if g.header != nil && g.header.IdempotencyKey != "" {
			at, err := keyed(g.header.IdempotencyKey)
			if err != nil {
				return err
			}
			if !at.IsZero() {
				m.note(g.header, g.line, at)
				if at == id {
					c, err := readCommit(rd, at)
					if err != nil {
						return err
					}
					id = c.Parent()
				}
				continue
			}
		}
		for {
			if id.IsZero() {
				return nil
			}
			c, err := readCommit(rd, id)
			if err != nil {
				return err
			}
			ok, err := holds(rd, c, g)
			if err != nil {
				return err
			}
			if ok {
				m.note(g.header, g.line, id)
				id = c.Parent()
				break
			}
			if skipped == landedSkipMax {
				return nil
			}
			skipped++
			id = c.Parent()
		}
	}
	return nil
}

// keyedOn returns a lookup of the commit an idempotency key names on
// head's first-parent line, ZeroID when none does (keyOnLine).
func keyedOn(tx *store.Tx, branchRef string, head object.ID, line *lineSet) func(key string) (object.ID, error) {
	return func(key string) (object.ID, error) {
		c, _, ok, err := keyOnLine(tx, branchRef, head, key, line)
		if err != nil || !ok {
			return object.ZeroID, err
		}
		return c, nil
	}
}

// landedSkipMax is the most commits landed passes over in a batch.
const landedSkipMax = 1000

// holds reports whether commit c holds a commit of an import's input as
// an import writes it: its header's message, actor and number of
// reverts, the time it asks for, and its events' streams,
// types, data, schemas (where the input gives one) and meta (what the
// input gives; the commit adds its time and actor where it gives none),
// in order.
func holds(rd reader, c *object.Commit, g importGroup) (bool, error) {
	if len(c.Events) != len(g.events) {
		return false, nil
	}
	if ok, err := holdsHeader(rd, c, g); err != nil || !ok {
		return false, err
	}
	for i, id := range c.Events {
		e, err := readEvent(rd, id)
		if err != nil || !eventHolds(e, &g.events[i]) {
			return false, err
		}
	}
	return true, nil
}

// holdsSome reports whether commit c is the commit an input's commit
// holds some of the events of, as export writes them: the first of them
// (an export cut inside the commit), or, when they are all of one
// stream, the first of that stream's (an export of the stream, cut or
// whole). Any other part of the commit is an edited input: an event
// added after the part is not among the commit's there.
func holdsSome(rd reader, c *object.Commit, g importGroup) (bool, error) {
	if ok, err := holdsHeader(rd, c, g); err != nil || !ok {
		return false, err
	}
	stream := g.stream()
	i := 0
	for _, id := range c.Events {
		if i == len(g.events) {
			break
		}
		e, err := readEvent(rd, id)
		if err != nil {
			return false, err
		}
		switch {
		case stream != "" && e.Stream != stream:
			continue
		case !eventHolds(e, &g.events[i]):
			return false, nil
		}
		i++
	}
	return i == len(g.events), nil
}

// holdsFirst reports whether commit c begins with the events of the
// input's commit g, the last of an input that an import of a longer
// version of it wrote with more (its --batch cut there): the first of
// them for plain lines, and for a commit with a header whatever part
// holdsSome takes.
func holdsFirst(rd reader, c *object.Commit, g importGroup) (bool, error) {
	if g.header != nil {
		return holdsSome(rd, c, g)
	}
	if len(g.events) > len(c.Events) {
		return false, nil
	}
	if ok, err := holdsHeader(rd, c, g); err != nil || !ok {
		return false, err
	}
	for i := range g.events {
		e, err := readEvent(rd, c.Events[i])
		if err != nil || !eventHolds(e, &g.events[i]) {
			return false, err
		}
	}
	return true, nil
}

// holdsHeader reports whether commit c has what an input's commit header
// asks for: message, actor (when it names one), as many reverts, time.
func holdsHeader(rd reader, c *object.Commit, g importGroup) (bool, error) {
	if g.header != nil && (c.Message != g.header.Message ||
		g.header.Actor != "" && c.Actor != g.header.Actor || len(g.header.Reverts) != len(c.Reverts)) {
		return false, nil
	}
	return holdsTime(rd, c, g)
}

// eventHolds reports whether event e is the input's event pe: stream,
// type, data, the schema and meta fields pe gives.
func eventHolds(e *object.Event, pe *preparedEvent) bool {
	if e.Stream != pe.in.Stream || e.Type != pe.in.Type || !bytes.Equal(e.Data, pe.data) ||
		pe.in.Schema != 0 && e.Schema != pe.in.Schema || len(e.Meta) < len(pe.in.Meta) {
		return false
	}
	for k, v := range pe.in.Meta {
		if got, ok := e.Meta[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// holdsTime reports whether commit c has the time an input's commit asks
// for (its header's, or its first event's meta time), if it asks for
// one: that time, or its parent's when the time asked for is earlier
// (times never decrease along a line).
func holdsTime(rd reader, c *object.Commit, g importGroup) (bool, error) {
	o, err := importSpec(g, "")
	if err != nil || o.Time.IsZero() || o.Time.Equal(c.Time) {
		return err == nil, nil
	}
	if !o.Time.Before(c.Time) || c.Parent().IsZero() {
		return false, nil
	}
	p, err := readCommit(rd, c.Parent())
	if err != nil {
		return false, err
	}
	return p.Time.Equal(c.Time), nil
}

// checkHeaderID refuses a header whose id is not a commit ID. The id
// names the commit within the input (importRenames); a commit's
// reverts may name any commit, here or not: an export of one branch or
// one stream leaves out commits that its reverts name, and the reverting
// commit's ID covers those names.
//
// An id named twice is refused too, unless each time by the events of
// another single stream (exports of two streams, one after the other):
// an export names each commit once, so the input is two exports in one
// (of two branches that share commits, say), and the commits of the
// second that the first holds would be written again, their events twice
// (an audit), where the source's own history skips them.
func checkHeaderID(g importGroup, named namedIDs) error {
	h := g.header
	if h == nil || h.ID == "" {
		return nil
	}
	id, err := object.ParseID(h.ID)
	if err != nil {
		return invalidf("line %d: commit id: %v", g.line, err)
	}
	stream := g.stream()
	first, ok := named[id]
	if !ok {
		named[id] = namedID{line: g.line, stream: stream}
		return nil
	}
	again := func(at int) error {
		return invalidf("line %d: commit %s is named again, first at line %d: the input holds some of its events twice (two exports in one? import them one after the other)", g.line, id.Short(), at)
	}
	if stream == "" || first.stream == "" {
		// The commit's events (of several streams) and any of them.
		return again(first.line)
	}
	if first.more == nil {
		first.more = map[string]int{first.stream: first.line}
		named[id] = first
	}
	if at, ok := first.more[stream]; ok {
		return again(at)
	}
	first.more[stream] = g.line
	return nil
}

// namedIDs are the header ids an import's input names, each with the
// line that first named it and, when that naming held one stream's
// events, the stream; more holds the streams of later namings, each
// another one-stream part of the commit (exports of several streams).
type namedIDs map[object.ID]namedID

type namedID struct {
	line   int
	stream string         // "" for events of several streams
	more   map[string]int // each naming's stream, at its line, once named again
}

// importSpec returns the options of an imported commit: those its
// header gives, and its time: the header's, else its first event's, else
// none (now, when it is written). A time evgit cannot store is refused
// here, in the dry run, before any batch is written.
func importSpec(g importGroup, actor string) (AppendOptions, error) {
	o := AppendOptions{Actor: actor}
	h := g.header
	given, fromMeta := true, false
	switch {
	case h != nil && h.Time != "":
		t, err := walk.ParseTime(h.Time)
		if err != nil {
			return o, invalidf("line %d: commit time %q is not RFC 3339", g.line, h.Time)
		}
		o.Time = t
	case g.events[0].in.Meta["time"] != "":
		o.Time, _ = walk.ParseRFC3339(g.events[0].in.Meta["time"]) // checked as the line was read
		fromMeta = true
	default:
		given = false
	}
	// A time given is checked even when it is the zero time (year 1),
	// which the commit would otherwise take for none given (now).
	if given {
		if err := checkTime(o.Time); err != nil {
			if fromMeta {
				// commit takes such an event (its commit's time is now),
				// so say why import does not.
				return o, fmt.Errorf("line %d: meta.time is the commit's time when no header gives one: %w", g.line, err)
			}
			return o, fmt.Errorf("line %d: %w", g.line, err)
		}
	}
	if h == nil {
		return o, nil
	}
	o.Message, o.IdempotencyKey = h.Message, h.IdempotencyKey
	if err := checkKey(h.IdempotencyKey); err != nil {
		return o, fmt.Errorf("line %d: commit %w", g.line, err)
	}
	if h.HasActor() {
		if err := checkActor(h.Actor); err != nil {
			return o, fmt.Errorf("line %d: commit %w", g.line, err)
		}
		o.Actor = h.Actor
	}
	for _, s := range h.Reverts {
		id, err := object.ParseID(s)
		if err != nil {
			return o, invalidf("line %d: commit reverts: %v", g.line, err)
		}
		o.Reverts = append(o.Reverts, id)
	}
	return o, nil
}

// exportLine is one line export writes, in the field order of SPEC §2.
type exportLine struct {
	Stream string            `json:"stream"`
	Type   string            `json:"type"`
	Data   json.RawMessage   `json:"data"`
	Schema int               `json:"schema"`
	Meta   map[string]string `json:"meta"`
	Commit *CommitHeader     `json:"commit,omitempty"`
}

// ExportOptions select what Export writes.
type ExportOptions struct {
	Range  string // a revision or A..B; HEAD when empty
	Stream string // only this stream's events
}

// Export writes the events, oldest first, as NDJSON that Import reads
// back into the same commits. A branch with no commits yet is an error
// matching ErrNotFound, as for Log; a Stream with no events in the range
// writes nothing and is no error (as `log --stream` lists nothing).
func (r *Repository) Export(ctx context.Context, w io.Writer, opts ExportOptions) error {
	if w == nil {
		return invalidf("no output to write to") // as Import's "no input to read" (a helper's audit found a panic)
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for info, err := range r.Log(ctx, LogOptions{Range: opts.Range, Stream: opts.Stream, Reverse: true}) {
		if err != nil {
			return err
		}
		first := true
		for _, e := range info.Events {
			if opts.Stream != "" && e.Stream != opts.Stream {
				continue
			}
			l := exportLine{Stream: e.Stream, Type: e.Type, Data: e.Data, Schema: e.Schema, Meta: e.Meta}
			if first {
				h := &CommitHeader{ID: info.ID.String(), Message: info.Message, Actor: info.Actor, Time: info.Time.Format(time.RFC3339Nano), IdempotencyKey: info.IdempotencyKey}
				for _, id := range info.Reverts {
					h.Reverts = append(h.Reverts, id.String())
				}
				l.Commit = h
				first = false
			}
			if err := enc.Encode(&l); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// lineSetStep, when set (by tests), is told of each commit a lineSet
// walks.
var lineSetStep func()

// lineSet remembers the commits of a branch's first-parent line walked
// back from its head, so an import run again checks that each batch it
// skips landed on this branch with one walk in all, not one per batch.
type lineSet struct {
	head  object.ID
	ids   map[object.ID]bool
	child map[object.ID]object.ID // a commit walked → the line's commit after it
	next  object.ID               // where the walk goes on
	low   uint64                  // the lowest offset walked
}

// has reports whether commit lies on the first-parent line ending at head.
func (l *lineSet) has(rd reader, head, commit object.ID) (bool, error) {
	if l.ids == nil || l.head != head {
		if ok, err := l.extend(rd, head); err != nil {
			return false, err
		} else if !ok {
			*l = lineSet{head: head, ids: map[object.ID]bool{}, child: map[object.ID]object.ID{}, next: head, low: ^uint64(0)}
		}
	}
	if l.ids[commit] {
		return true, nil
	}
	target, err := readCommit(rd, commit)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	for !l.next.IsZero() && l.low > target.Offset {
		if lineSetStep != nil {
			lineSetStep()
		}
		c, err := readCommit(rd, l.next)
		if err != nil {
			return false, err
		}
		l.ids[l.next] = true
		l.child[c.Parent()] = l.next
		l.low = c.Offset
		l.next = c.Parent()
	}
	return l.ids[commit], nil
}

// after returns the commit after commit on the first-parent line ending
// at head, ZeroID when commit is head or not on the line.
func (l *lineSet) after(rd reader, head, commit object.ID) (object.ID, error) {
	if on, err := l.has(rd, head, commit); err != nil || !on {
		return object.ZeroID, err
	}
	if commit == head {
		return object.ZeroID, nil
	}
	// Every commit walked but head has its child recorded (has, extend).
	return l.child[commit], nil
}

// lineExtendMax bounds the commits extend walks back from a new head.
const lineExtendMax = 4096

// extend moves the set to a new head whose line passes through the
// head it holds (an import's batches written on top), walking only the
// commits between, so that an import looking up keys after each batch
// it writes does not walk its whole line again each time.
func (l *lineSet) extend(rd reader, head object.ID) (bool, error) {
	if l.ids == nil || l.head.IsZero() {
		return false, nil
	}
	var walked []object.ID
	for id := head; len(walked) < lineExtendMax && !id.IsZero(); {
		if id == l.head {
			for i, w := range walked {
				l.ids[w] = true
				if i+1 < len(walked) {
					l.child[walked[i+1]] = w
				}
			}
			if len(walked) > 0 {
				l.child[l.head] = walked[len(walked)-1]
			}
			l.ids[l.head] = true
			l.head = head
			return true, nil
		}
		c, err := readCommit(rd, id)
		if err != nil {
			return false, err
		}
		walked = append(walked, id)
		id = c.Parent()
	}
	return false, nil
}
