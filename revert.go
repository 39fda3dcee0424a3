package evgit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/revert"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// ErrNoCompensation is returned by Revert when an event has no
// compensation: its type is named by the model without a revert rule, or
// no merge patch can restore the state before it. It matches neither
// ErrConflict nor ErrRule: the CLI exits 1 for it (SPEC §3, §4).
var ErrNoCompensation = model.ErrNoCompensation

// RevertOptions say where a revert is appended and how it is described.
type RevertOptions struct {
	Branch string // short branch name; "" means the branch HEAD names
	// Message is the revert commit's message; "" means `Revert "<subject
	// of the reverted commit>"`, and for a range `Revert N commits`, a
	// blank line, then that line for each commit, newest first.
	Message string
	// EmptyMessage makes an empty Message the message (revert -m ""),
	// not a request for the default one.
	EmptyMessage bool
	Actor        string    // commit actor
	Time         time.Time // commit time; zero means now
	// IdempotencyKey, as for Append: when a commit of the branch holds
	// the key, reverts the same commits and holds the same compensating
	// events (a retry of a revert that landed, even one that landed
	// while this one ran), nothing is written and that commit is the
	// result (Duplicate); any other commit with the key (a retry of
	// `revert HEAD`, which now names the revert; equal events reverting
	// another commit) makes the error a *KeyReusedError. It is checked
	// before the model's rules, which a second compensation may fail.
	IdempotencyKey string
}

// RevertResult describes the commit a revert appended. Its JSON is what
// `evgit revert --json` prints: the fields of AppendResult and the IDs of
// the reverted commits.
type RevertResult struct {
	AppendResult
	// Reverts are the reverted commits, newest first.
	Reverts []object.ID `json:"reverts"`
	Message string      `json:"-"` // the revert commit's message
	// Overwrites are the later changes that merge-patch compensations set
	// back with the reverted events' (see revert.Overwrite); the CLI warns
	// of each, and lists them in its JSON.
	Overwrites []revert.Overwrite `json:"overwrites,omitempty"`
}

// AlreadyRevertedError is Revert's answer when the revert would undo a
// commit that is undone already on the branch: compensating a deposit
// again is a second refund. Git's revert finds nothing to commit there
// too. It matches ErrNothingToCommit.
//
// A commit is undone by a revert in effect, and a revert is in effect
// unless reverted in turn; reverting a revert puts back what it
// reverted, so reverting the revert of a revert undoes the first commit
// again, and is refused when that commit is undone already. Reverting
// the revert that undid it (By) puts the commit back in effect, and
// then it can be reverted again.
type AlreadyRevertedError struct {
	Commit object.ID // the commit that would be undone twice
	// By is the newest revert in effect that undoes it; ZeroID when the
	// revert asked for would undo it twice by itself.
	By object.ID
	// Through is the commit asked to revert whose revert would undo
	// Commit again; ZeroID when Commit is itself one asked for.
	Through object.ID
}

// Error names the commits.
func (e *AlreadyRevertedError) Error() string {
	switch {
	case e.By.IsZero():
		return fmt.Sprintf("this revert would undo commit %s twice", e.Commit.Short())
	case e.Through.IsZero():
		return fmt.Sprintf("commit %s is already reverted by %s", e.Commit.Short(), e.By.Short())
	}
	return fmt.Sprintf("commit %s is already reverted by %s; reverting %s would undo it again", e.Commit.Short(), e.By.Short(), e.Through.Short())
}

// Is makes the error match ErrNothingToCommit.
func (e *AlreadyRevertedError) Is(target error) bool { return target == ErrNothingToCommit }

// NotOnBranchError is returned by Revert for a commit that is not on the
// first-parent line of the branch the revert appends to: the branch never
// had its events, so there is nothing there to undo. It matches
// ErrNoCompensation.
type NotOnBranchError struct {
	Commit object.ID // the commit asked to revert
	Branch string    // the branch's short name
}

// Error names the commit and the branch.
func (e *NotOnBranchError) Error() string {
	return fmt.Sprintf("cannot revert commit %s: it is not on branch %s (a commit of another branch?), so there is nothing there to undo; revert it on a branch that has it (-b)", e.Commit.Short(), quotedName(e.Branch))
}

// Is makes the error match ErrNoCompensation.
func (e *NotOnBranchError) Is(target error) bool { return target == ErrNoCompensation }

// revertClosure returns the commits whose effect a revert of ids would
// change: ids (commits), and what each of them reverts, recursively, as
// reverting a revert puts back what it reverted; with, for each, the
// commit of ids it is reached through. A reverted commit that is not
// stored (an import of one branch) ends its chain.
func revertClosure(rd reader, ids []object.ID, commits []*object.Commit) ([]object.ID, map[object.ID]object.ID, error) {
	through := make(map[object.ID]object.ID, len(ids))
	closure := slices.Clone(ids)
	reverts := make([][]object.ID, len(ids))
	for i, id := range ids {
		through[id] = object.ZeroID
		reverts[i] = commits[i].Reverts
	}
	for i := 0; i < len(closure); i++ {
		if i >= len(ids) {
			c, err := readCommit(rd, closure[i])
			if errors.Is(err, ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			reverts = append(reverts, c.Reverts)
		}
		from := through[closure[i]]
		if from.IsZero() {
			from = closure[i]
		}
		for _, x := range reverts[i] {
			if _, ok := through[x]; !ok {
				through[x] = from
				closure = append(closure, x)
			}
		}
	}
	return closure, through, nil
}

// revertsSeen is what a walk down a first-parent line found of reverts:
// the commits on it that revert something, newest first, from tip down
// to where the walk stopped.
type revertsSeen struct {
	tip       object.ID
	reverters []*object.Commit
	ids       []object.ID        // the reverters' IDs
	found     map[object.ID]bool // the targets the walk passed
}

// seeReverts walks the first-parent line from tip, newest first, and
// collects the commits that revert something, until it reaches stop
// (not walked; reached reports it), every one of targets, or the root.
// Commits older than a target cannot revert it (their IDs would cover
// its own), so the walk ends at the oldest target on the line.
func seeReverts(ctx context.Context, rd reader, tip, stop object.ID, targets []object.ID) (seen revertsSeen, reached bool, err error) {
	left := make(map[object.ID]bool, len(targets))
	for _, id := range targets {
		left[id] = true
	}
	seen.tip, seen.found = tip, map[object.ID]bool{}
	for id, n := tip, 0; !id.IsZero() && len(left) > 0; n++ {
		if id == stop {
			return seen, true, nil
		}
		if n%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return seen, false, err
			}
		}
		if left[id] {
			seen.found[id] = true
			delete(left, id)
		}
		c, err := readCommit(rd, id)
		if err != nil {
			return seen, false, err
		}
		if len(c.Reverts) > 0 {
			seen.reverters = append(seen.reverters, c)
			seen.ids = append(seen.ids, id)
		}
		id = object.ZeroID
		if len(c.Parents) > 0 {
			id = c.Parents[0]
		}
	}
	return seen, false, nil
}

// checkNotReverted fails when a commit of ids is not on the first-parent
// line ending at head, the line of branch (its short name): a commit the
// branch never had has nothing there to undo, and its compensations would
// put in what never was (a refund of a fee never charged; a revert of
// another branch's revert, which would apply a commit a second time;
// helpers' audits). And it fails with *AlreadyRevertedError when reverting
// ids would undo a commit of closure (revertClosure) that is undone already
// on that line, or undo one twice itself.
// before, when its tip is on that line, is the older part of the line,
// walked before the lock was taken: only the commits since are walked
// now.
//
// Each commit's net effect is 1 less the net effects of the later
// commits that revert it, counted newest first: 1 in effect, 0 undone,
// and below 0 undone twice. The revert asked for, newest of all, has
// effect 1. A range that holds a commit and its revert in effect lowers
// the revert to 0 and puts the commit back before undoing it: once.
func checkNotReverted(ctx context.Context, rd reader, branch string, head object.ID, ids, closure []object.ID, through map[object.ID]object.ID, before revertsSeen) error {
	seen, reached, err := seeReverts(ctx, rd, head, before.tip, closure)
	if err != nil {
		return err
	}
	if reached {
		seen.reverters = append(seen.reverters, before.reverters...)
		seen.ids = append(seen.ids, before.ids...)
		maps.Copy(seen.found, before.found)
	}
	for _, id := range ids {
		if !seen.found[id] {
			return &NotOnBranchError{Commit: id, Branch: branch}
		}
	}
	// Later commits' effects on each commit, without the revert asked
	// for and what it changes; by: the newest revert in effect of each.
	acc := map[object.ID]int{}
	change := make(map[object.ID]int, len(closure))
	by := map[object.ID]object.ID{}
	for _, id := range ids {
		change[id]++
	}
	for i, c := range seen.reverters {
		id := seen.ids[i]
		net, d := 1-acc[id], -change[id]
		for _, x := range c.Reverts {
			acc[x] += net
			if d != 0 {
				change[x] += d
			}
			if _, ok := by[x]; !ok && net > 0 {
				by[x] = id
			}
		}
	}
	for _, x := range closure {
		net, d := 1-acc[x], -change[x]
		if d >= 0 || net+d >= 0 {
			continue
		}
		e := &AlreadyRevertedError{Commit: x, Through: through[x]}
		if net <= 0 {
			e.By = by[x]
		}
		return e
	}
	return nil
}

// revertBranch returns the full name of the branch a revert appends to
// as the store sees it now: the short name given, or the branch HEAD
// names ("" when HEAD is detached). The transaction checks it.
func (r *Repository) revertBranch(short string) string {
	if short != "" {
		return refs.HeadsPrefix + short
	}
	v, _ := r.st.Ref(refs.HEAD)
	return v.Symbolic
}

// revertsBefore walks, before the lock is taken, the line of the branch
// a revert appends to, so that checkNotReverted under the lock walks
// only what landed since. Nothing when the branch cannot be read now
// (the transaction says what is wrong).
func (r *Repository) revertsBefore(ctx context.Context, branch string, ids []object.ID) (revertsSeen, error) {
	name := r.revertBranch(branch)
	tip, _, ok := r.st.Resolve(name)
	if name == "" || !ok {
		return revertsSeen{}, nil
	}
	seen, _, err := seeReverts(ctx, r.st, tip, object.ZeroID, ids)
	return seen, err
}

// revertAttempts bounds how often Revert starts again when the model
// changed between computing the compensations and appending them.
const revertAttempts = 3

// errModelMoved says the model changed under a revert; it is retried.
var errModelMoved = errors.New("the model changed while reverting")

// testHookRevertComputed, when set by a test, runs between computing the
// compensations and the transaction that appends them.
var testHookRevertComputed func()

// Revert appends one commit of compensating events for the events of rev
// (a revision, or a range A..B: every commit in it, newest first), each
// commit's events last first, recording the reverted commits in Reverts.
// Nothing is written when an event has no compensation (ErrNoCompensation)
// or a model rule refuses a compensating event (ErrRule). A merge-patch
// compensation puts back the values its fields had before the event, even
// where a later event changed them since (SPEC §4); the result lists
// those fields (Overwrites).
//
// The compensations depend only on history, so they are computed before
// the write lock is taken; the check against the branch's current states
// and the append happen in one transaction, under the lock, on the head
// the commit is built on, so a branch that moves meanwhile cannot make
// the check stale. A revision named through HEAD or that branch (HEAD,
// HEAD~2, main) is resolved again when the branch moved since it was
// resolved, so two reverts of HEAD at once never revert one commit twice;
// a branch that keeps moving (a hundred times) fails it with ErrConflict.
// Any other revision (an ID, a tag, another branch) is resolved once. A
// commit that is not on the branch's first-parent line is not reverted
// (*NotOnBranchError, which matches ErrNoCompensation): the branch never
// had its events. A revert that would undo a commit the branch's
// first-parent line has undone already, by reverting it again or by
// reverting a revert of a revert, is refused (*AlreadyRevertedError),
// which holds for two reverts of one commit at once too; the key of a
// retry is looked up first. An empty rev means HEAD.
func (r *Repository) Revert(ctx context.Context, rev string, opts RevertOptions) (*RevertResult, error) {
	if rev == "" {
		rev = refs.HEAD
	}
	if err := checkActor(opts.Actor); err != nil {
		return nil, err
	}
	if err := checkMessage(opts.Message); err != nil {
		return nil, err
	}
	if err := checkKey(opts.IdempotencyKey); err != nil {
		return nil, err
	}
	for attempt, moved := 1, 0; ; {
		pin, err := r.pinRevision(rev, opts.Branch)
		if err != nil {
			return nil, err
		}
		ids, commits, err := r.revertTargets(ctx, rev)
		if err != nil {
			return nil, err
		}
		msg := opts.Message
		if msg == "" && !opts.EmptyMessage {
			msg = revertMessage(commits)
		}
		res, err := r.revertOnce(ctx, ids, commits, msg, opts, pin)
		switch {
		case errors.Is(err, errModelMoved) && attempt < revertAttempts:
			attempt++
			continue
		case errors.Is(err, errRevisionMoved) && moved < revertMovedAttempts:
			moved++
			continue
		case errors.Is(err, errRevisionMoved):
			return nil, fmt.Errorf("%w: the branch kept moving while %s was reverted", ErrConflict, rev)
		}
		return res, err
	}
}

// errRevisionMoved says the branch a revert appends to moved after its
// revision was resolved: the revision is resolved again, on the new
// head. Two runs of `revert HEAD` at once each reverted the same commit
// (a deposit withdrawn twice); now the second reverts the first's
// revert, as it would have run after it.
var errRevisionMoved = errors.New("the branch moved while reverting")

// revertMovedAttempts bounds how often Revert resolves its revision
// again because its branch moved; then it fails with ErrConflict.
const revertMovedAttempts = 100

// revertPin is the branch a revert appends to and its head when the
// revision was resolved.
type revertPin struct {
	branch string
	head   object.ID
}

// pinRevision returns the branch a revert appends to and its head now,
// before rev is resolved, when rev is named through that branch or HEAD
// (HEAD~1, main, @{2}): what it names moves with the branch. nil for
// any other revision (an ID, a tag, another branch), which the branch
// moving cannot change.
func (r *Repository) pinRevision(rev, branch string) (*revertPin, error) {
	if err := r.refresh(); err != nil {
		return nil, err
	}
	p := &revertPin{branch: r.revertBranch(branch)}
	from, to, isRange := walk.ParseRange(rev)
	if !isRange {
		from, to = rev, rev
	}
	if !movesWith(from, p.branch) && !movesWith(to, p.branch) {
		return nil, nil
	}
	p.head, _, _ = r.st.Resolve(p.branch)
	return p, nil
}

// movesWith reports whether rev is named through HEAD or the branch
// (its full name).
func movesWith(rev, branch string) bool {
	name, ok := walk.RevisionName(rev)
	if !ok {
		return false // Resolve says what is wrong with it
	}
	short := strings.TrimPrefix(branch, refs.HeadsPrefix)
	return name == refs.HEAD || branch != "" && (name == branch || name == short || name == "heads/"+short)
}

func (r *Repository) revertOnce(ctx context.Context, ids []object.ID, commits []*object.Commit, msg string, opts RevertOptions, pin *revertPin) (*RevertResult, error) {
	mdl, mdlID, err := r.model()
	if err != nil {
		return nil, err
	}
	comps, err := r.compensations(mdl, ids, commits)
	if err != nil {
		return nil, err
	}
	if len(comps) == 0 {
		return nil, fmt.Errorf("%w: the reverted commits hold no events", ErrNothingToCommit)
	}
	events := make([]preparedEvent, len(comps))
	for i, c := range comps {
		in := EventInput{Stream: c.Stream, Type: c.Event.Type, Schema: c.Event.Schema, Data: c.Event.Data}
		data, err := checkEvent(&in)
		if err != nil {
			return nil, fmt.Errorf("compensation of event %s: %w", c.Target.Short(), err)
		}
		events[i] = preparedEvent{in: in, data: data}
	}
	closure, through, err := revertClosure(r.st, ids, commits)
	if err != nil {
		return nil, err
	}
	before, err := r.revertsBefore(ctx, opts.Branch, closure)
	if err != nil {
		return nil, err
	}
	if testHookRevertComputed != nil {
		testHookRevertComputed()
	}
	aopts := AppendOptions{Branch: opts.Branch, Message: msg, Actor: opts.Actor, Time: opts.Time, Reverts: ids, IdempotencyKey: opts.IdempotencyKey}
	var res *AppendResult
	var dup *object.Commit // the commit that holds the key, for a retry
	var over []revert.Overwrite
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		if v, _ := tx.Ref(refs.Model); v.ID != mdlID {
			return errModelMoved
		}
		w, branchRef, hs, err := r.writerOn(tx, opts.Branch, mdl, mdlID)
		if err != nil {
			return err
		}
		// The key first: a retry of `revert HEAD` that landed while this
		// one computed the same compensations is this revert, though the
		// branch moved.
		if key := opts.IdempotencyKey; key != "" {
			prev, ok, err := keyedCommit(tx, branchRef, hs.head, key, digest(events, aopts, mdl), events, aopts, mdl)
			if err != nil {
				return err
			}
			if ok {
				c, err := readCommit(tx, prev)
				if err != nil {
					return err
				}
				// The same events reverting other commits (two equal
				// deposits) are another revert.
				if !slices.Equal(c.Reverts, ids) {
					return &KeyReusedError{Key: key, Commit: prev}
				}
				dup = c
				res, err = r.resultOf(tx, prev, shortBranch(branchRef), true)
				return err
			}
		}
		if pin != nil && (branchRef != pin.branch || hs.head != pin.head) {
			return errRevisionMoved
		}
		if err := checkNotReverted(ctx, tx, shortBranch(branchRef), hs.head, ids, closure, through, before); err != nil {
			return err
		}
		over, err = revert.Check(mdl, comps, func(stream string) ([]byte, bool, error) {
			st, err := w.hs.get(w, stream)
			return st.state, st.version > 0, err
		})
		if err != nil {
			return err
		}
		out, err := w.commit(events, aopts, branchRef)
		if err != nil {
			return err
		}
		res = &out
		if err := w.publish(branchRef, hs.head, opts.Actor, revertReflogMessage(msg)); err != nil {
			return err
		}
		r.keepHead(branchRef, w.hs, mdlID)
		return nil
	})
	if err != nil {
		r.forgetHeads()
		return nil, invalidIfTooLarge(err)
	}
	if dup != nil {
		return &RevertResult{AppendResult: *res, Reverts: nonNil(dup.Reverts), Message: dup.Message}, nil
	}
	return &RevertResult{AppendResult: *res, Reverts: ids, Message: msg, Overwrites: over}, nil
}

func revertReflogMessage(msg string) string { return "revert: " + Subject(msg) }

// revertTargets resolves a revision or a range to the commits to revert,
// newest first.
func (r *Repository) revertTargets(ctx context.Context, rev string) ([]object.ID, []*object.Commit, error) {
	from, to, isRange := walk.ParseRange(rev)
	if !isRange {
		id, err := r.Resolve(ctx, rev)
		if err != nil {
			return nil, nil, err
		}
		c, err := r.st.Commit(id)
		if err != nil {
			return nil, nil, err
		}
		return []object.ID{id}, []*object.Commit{c}, nil
	}
	a, err := r.Resolve(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	b, err := r.Resolve(ctx, to)
	if err != nil {
		return nil, nil, err
	}
	var ids []object.ID
	var commits []*object.Commit
	for e, err := range walk.Log(ctx, newLineSource(r.st), walk.LogOptions{Include: []object.ID{b}, Exclude: []object.ID{a}}) {
		if err != nil {
			return nil, nil, err
		}
		ids = append(ids, e.ID)
		commits = append(commits, e.Commit)
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("%w: %s holds no commits", ErrNothingToCommit, rev)
	}
	return ids, commits, nil
}

// revertMessage is `Revert "<msg>"` for one commit (SPEC §3), where msg
// is the reverted commit's subject line, as git revert takes it, and may
// be empty; for several, a count followed by that line for each.
func revertMessage(commits []*object.Commit) string {
	line := func(i int) string { return `Revert "` + Subject(commits[i].Message) + `"` }
	if len(commits) == 1 {
		return line(0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Revert %d commits\n", len(commits))
	for i := range commits {
		b.WriteString("\n")
		b.WriteString(line(i))
	}
	return b.String()
}

// compensations computes the compensations of the commits' events:
// commits in the order given (newest first), each commit's events last
// first. It reads history only, so it runs without the lock.
func (r *Repository) compensations(mdl *model.Model, ids []object.ID, commits []*object.Commit) ([]revert.Compensation, error) {
	h := &historyStates{rd: r.st, mdl: mdl, after: map[object.ID]map[string][]byte{}}
	perCommit := make([][]revert.Compensation, len(commits))
	// Oldest first, so that in a linear range each commit's states before
	// it are the states the previous one left.
	for i := len(commits) - 1; i >= 0; i-- {
		c := commits[i]
		running := map[string][]byte{}
		comps := make([]revert.Compensation, len(c.Events))
		for j, eid := range c.Events {
			e, err := readEvent(r.st, eid)
			if err != nil {
				return nil, err
			}
			before, ok := running[e.Stream]
			if !ok {
				if before, err = h.at(c.Parent(), e.Stream); err != nil {
					return nil, err
				}
			}
			comp, err := revert.Compensate(mdl, revert.Target{Commit: ids[i], ID: eid, Event: e, Before: before})
			if err != nil {
				return nil, err
			}
			comps[len(c.Events)-1-j] = comp
			next, err := mdl.Replay(e.Stream, before, model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta})
			if err != nil {
				return nil, fmt.Errorf("folding %s: %w", e.Stream, err)
			}
			running[e.Stream] = next
		}
		h.after[ids[i]] = running
		perCommit[i] = comps
	}
	return slices.Concat(perCommit...), nil
}

// historyStates folds streams at commits of history, remembering the
// states each reverted commit left.
type historyStates struct {
	rd    reader
	mdl   *model.Model
	after map[object.ID]map[string][]byte // commit → stream → state after it
}

// at returns a stream's state after commit id (nil for ZeroID).
func (h *historyStates) at(id object.ID, stream string) ([]byte, error) {
	if id.IsZero() {
		return nil, nil
	}
	if st, ok := h.after[id][stream]; ok {
		return st, nil
	}
	st, err := loadStream(h.rd, h.mdl, id, stream)
	if err != nil {
		return nil, err
	}
	m := h.after[id]
	if m == nil {
		m = map[string][]byte{}
		h.after[id] = m
	}
	m[stream] = st.state
	return st.state, nil
}
