package evgit

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// How an import finds what of its input landed on the branch already (an
// import run again, or run again on an input that grew or shrank): by
// the input's prefix digest, which names everything the input held from
// its first line up to a commit, never by what a batch holds alone,
// which another input can hold too. Each run of commits an import writes
// in one transaction records two keys in the idempotency index: the
// prefix digest at its last commit (prefixKey), and the one at its first
// (startKey), whose value names the run's last commit and the first it
// added (a commit retried for its idempotency key is not added). The
// first finds a batch that landed whole, or, looked up at each of a
// batch's commits, where an earlier, shorter import of the input ended;
// the second finds a run that an earlier, longer import of the input
// wrote from there, and that run's commits, compared with the input's
// event for event, say how far this input's commits landed in it.

// spanPos places a run of an import's commits in its input: before is
// the prefix digest where the run's cut begins; head, the digest of the
// cut's commits before the run (nil when the run begins the cut: a part
// after a split does not); start and end, the prefix digests at the
// run's first and last commits.
type spanPos struct {
	before     object.ID
	head       *blake3.Hasher
	start, end object.ID
	tail       *blake3.Hasher // a whole cut's digest state after its last commit (cutPos)
}

// cutPos returns the place of a whole cut of commits that begins where
// the prefix digest is before.
func cutPos(before object.ID, groups []importGroup) spanPos {
	var d digester
	d.addGroup(groups[0])
	start := prefixDigest(before, d.sum())
	end := start
	if len(groups) > 1 {
		for _, g := range groups[1:] {
			d.addGroup(g)
		}
		end = prefixDigest(before, d.sum())
	}
	return spanPos{before: before, start: start, end: end, tail: d.state()}
}

// digestFrom returns a digester that goes on from the commits of the cut
// before the run.
func (p spanPos) digestFrom() *digester {
	if p.head == nil {
		return &digester{}
	}
	return &digester{h: p.head.Clone()}
}

// prefixes returns the input's prefix digest after each commit of the
// run, and the state of the cut's digest after its first k commits.
func (p spanPos) prefixes(groups []importGroup, k int) ([]object.ID, *blake3.Hasher) {
	ps := make([]object.ID, len(groups))
	d := p.digestFrom()
	var at *blake3.Hasher
	for j, g := range groups {
		if j == k {
			at = d.state()
		}
		d.addGroup(g)
		ps[j] = prefixDigest(p.before, d.sum())
	}
	return ps, at
}

// firstDigest is the input's prefix digest after the first event of g,
// the first commit of a run placed by p (firstKey).
func (p spanPos) firstDigest(g importGroup) object.ID {
	d := p.digestFrom()
	d.add(g.events[:1])
	return prefixDigest(p.before, d.sum())
}

// firstDigests returns the input's prefix digests after the first event
// of groups[k] (of a run placed by pos; prev places the cut before, when
// known) as an import that began a run with that commit recorded them
// (firstKey): in a cut that began where this one does; in one that began
// at groups[k] (an import whose cuts fell otherwise, its commit there
// larger than the 10,000 events the cut had room for); or, for k = 0, in
// one that began where the cut before did (its commit there smaller, so
// it fit that cut). A review of session 29 found the first alone missing
// both: the events of a commit written twice.
func firstDigests(groups []importGroup, pos, prev spanPos, k int) []object.ID {
	if k == 0 {
		ds := []object.ID{pos.firstDigest(groups[0])}
		if prev.tail != nil {
			ds = append(ds, spanPos{before: prev.before, head: prev.tail}.firstDigest(groups[0]))
		}
		return ds
	}
	ps, h := pos.prefixes(groups, k)
	return []object.ID{
		spanPos{before: pos.before, head: h}.firstDigest(groups[k]),
		spanPos{before: ps[k-1]}.firstDigest(groups[k]),
	}
}

// prefixDigest is the input's prefix digest after the commits of digest
// dig (importDigest) of a cut that begins where the prefix digest is
// before (ZeroID at the input's start).
func prefixDigest(before, dig object.ID) object.ID {
	h := blake3.New()
	_, _ = h.WriteString("evgit import prefix\x00")
	_, _ = h.Write(before[:])
	_, _ = h.Write(dig[:])
	var id object.ID
	h.Sum(id[:0])
	return id
}

// prefixKey is the idempotency key an import records at the last commit
// of each run of commits it writes: the input's prefix digest there.
func prefixKey(prefix object.ID) string {
	return "\x00import-prefix\x00" + hex.EncodeToString(prefix[:])
}

// startKey is the idempotency key an import records at the first commit
// of each run of commits it writes: the input's prefix digest there. Its
// value holds the run's last commit, then the first it added.
func startKey(prefix object.ID) string {
	return "\x00import-start\x00" + hex.EncodeToString(prefix[:])
}

// wholeKey is the idempotency key an import that landed every line of
// its input records at its last commit: the digest of those lines
// (trimmed, blank ones left out), however they were cut into commits
// and batches. Its value holds that commit, then the digest.
func wholeKey(lines object.ID) string {
	return "\x00import-whole\x00" + hex.EncodeToString(lines[:])
}

// firstKey is the idempotency key an import records at the first commit
// of each run of commits it writes (since session 28), beside startKey:
// the input's prefix digest after that commit's first event. Its value
// is startKey's: the run's last commit, then its first. An input that
// ends inside the run's first commit, or whose first commit holds the
// run's first commit and more, finds the run by it, where startKey,
// after the whole commit, differs.
func firstKey(prefix object.ID) string {
	return "\x00import-first\x00" + hex.EncodeToString(prefix[:])
}

// keyLanded returns the commit an import key names, when that commit is
// on head's first-parent line, and the second ID of the key's value;
// ZeroIDs otherwise. The key is looked up as a commit's idempotency key
// is (keyOnLine): recorded for any branch (or, by earlier builds, on
// branchRef or another branch), and found when its commit is on the line.
func keyLanded(tx *store.Tx, branchRef string, head object.ID, key string, line *lineSet) (object.ID, object.ID, error) {
	last, second, ok, err := keyOnLine(tx, branchRef, head, key, line)
	if err != nil || !ok {
		return object.ZeroID, object.ZeroID, err
	}
	return last, second, nil
}

// markerLanded returns the commit at which a build before session 12
// recorded a whole cut of n commits landed, its marker naming the cut's
// digest alone (tail: the digest's state after the cut's last commit),
// when that commit is on head's line and, past the input's first cut, the
// cut's n commits follow after (the commit the cut before landed at)
// directly; ZeroID otherwise. Builds before session 10 recorded no
// prefix keys: without this, an input they imported, or began to, was
// written again whole (a helper's audit of old builds' repositories). A
// marker names content, not place, so it is taken only in order from the
// input's start, while every cut before landed whole (the caller's
// frontier), each cut's commits next after the one before's (a review:
// another file's batch of the same content, imported later, was taken
// for this input's). Builds of sessions 10 and 11 wrote prefix keys
// beside their markers, found before this is asked.
func markerLanded(tx *store.Tx, branchRef string, head object.ID, tail *blake3.Hasher, n int, after object.ID, line *lineSet) (object.ID, error) {
	d := digester{h: tail.Clone()}
	dig := d.sum()
	last, _, err := keyLanded(tx, branchRef, head, "\x00import\x00"+hex.EncodeToString(dig[:]), line)
	if err != nil || last.IsZero() || after.IsZero() {
		return last, err
	}
	at := last
	for range n {
		c, err := readCommit(tx, at)
		if err != nil {
			return object.ZeroID, err
		}
		if at = c.Parent(); at.IsZero() {
			break
		}
	}
	if at != after {
		return object.ZeroID, nil // the same content, landed elsewhere
	}
	return last, nil
}

// landedPart is what of a run of an import's commits is on the branch
// already: its first k commits, ending at commit last; at is the input's
// prefix digest after the k-th commit, and rest the place of the run's
// other commits (when k is less than all). held names the commit holding
// each of the k where it was found so (by its header ID, in a run an
// import wrote, or by its key), ZeroID where it was not (up to where an
// import ended, its prefix key naming the head it left: importRenames.
// landed reads those back from from); nil when none was.
type landedPart struct {
	k    int
	last object.ID
	held []object.ID
	from object.ID // where those not held are read back from
	at   object.ID
	rest spanPos
}

// findLanded returns how many commits at the start of groups, a run of
// an import's commits placed in its input by pos, are on head's
// first-parent line already: all of them when the prefix key at the
// run's end is; else those whose header IDs are, or, with inner, as far
// as the longest prefix key inside the run reaches (an earlier import of
// a shorter version of the input ended there); and from there on as far
// as the runs that imports of the input wrote from there hold the same
// commits (an import of a longer, a shorter or the same version of the
// input, run before or beside this one). The prefix keys inside are
// looked up one a commit, which the caller asks for only where an
// earlier import may have ended: a run with no start key (one that
// retried commits with idempotency keys) is found by them alone.
//
// endsInput says that the last of groups is the input's last commit: an
// earlier import of a longer version of the input may have written it
// with more events (its --batch cut it there), so it has landed when it
// is the first part of that commit (a helper's audit: a shorter version
// of an input imported whole wrote its last commit again).
//
// after is the commit the input's cut before this run landed at, when
// it did (ZeroID otherwise), and prev that cut's place.
func findLanded(tx *store.Tx, branchRef string, head object.ID, groups []importGroup, pos spanPos, inner, endsInput bool, after object.ID, prev spanPos, line *lineSet) (landedPart, error) {
	n := len(groups)
	if head.IsZero() || n == 0 {
		// Nothing landed; the run still records its keys.
		return landedPart{rest: pos}, nil
	}
	// The prefix digests inside the run: computed on first need.
	var ps []object.ID
	prefixes := func() []object.ID {
		if ps == nil {
			ps, _ = pos.prefixes(groups, -1)
		}
		return ps
	}
	// startAt is the start key's digest of a run that begins at groups[j].
	startAt := func(j int) object.ID {
		if j == 0 {
			return pos.start
		}
		return prefixes()[j]
	}
	// reach[j] is how far the runs that began at groups[j] hold the
	// input (j and their count), and their last commit there: the line
	// and the groups stay, so each is looked up once.
	type runEnd struct {
		end  int
		last object.ID
		held []object.ID // the commit holding each of groups[j:end]
	}
	reach := map[int]runEnd{}
	runAt := func(j int) (runEnd, error) {
		if r, ok := reach[j]; ok {
			return r, nil
		}
		m, l, h, err := longestRun(tx, branchRef, head, startKey(startAt(j)), groups[j:], endsInput, line)
		reach[j] = runEnd{j + m, l, h}
		return reach[j], err
	}
	// byRuns fills in the commits holding the first k groups, found
	// landed up to where an earlier import ended (its prefix key names
	// the head it left, last), from the runs imports wrote, where the
	// input's reverts may need them: its commits were renamed. Read back
	// from last instead, a commit retried for its key elsewhere, or
	// another writer's copy of one, was taken for the run's (reviews of
	// session 29).
	byRuns := func(k int, last object.ID, held []object.ID) error {
		declares := func(g importGroup) bool { return g.header != nil && g.header.ID != "" }
		if !slices.ContainsFunc(groups[:k], declares) || groups[k-1].header != nil && groups[k-1].header.ID == last.String() {
			return nil
		}
		for i := 0; i < k; {
			r, err := runAt(i)
			if err != nil || r.end <= i {
				return err
			}
			for j := i; j < min(r.end, k); j++ {
				if held[j].IsZero() {
					held[j] = r.held[j-i]
				}
			}
			i = r.end
		}
		return nil
	}
	last, _, err := keyLanded(tx, branchRef, head, prefixKey(pos.end), line)
	if err == nil && last.IsZero() && pos.head == nil && pos.tail != nil && (pos.before.IsZero() || inner && !after.IsZero()) {
		last, err = markerLanded(tx, branchRef, head, pos.tail, n, after, line)
	}
	if err != nil {
		return landedPart{}, err
	}
	if !last.IsZero() {
		held := make([]object.ID, n)
		if err := byRuns(n, last, held); err != nil {
			return landedPart{}, err
		}
		return landedPart{k: n, last: last, held: held, from: last, at: pos.end}, nil
	}
	k, last, err := idsOnLine(tx, head, groups, line)
	if err != nil {
		return landedPart{}, err
	}
	from := last
	// held names the commit holding each of the first k groups, where
	// known (zero where not).
	held := make([]object.ID, k)
	for i := range k {
		held[i], _ = object.ParseID(groups[i].header.ID)
	}
	if k == 0 && inner {
		for j := n - 2; j >= 0; j-- {
			l, _, err := keyLanded(tx, branchRef, head, prefixKey(prefixes()[j]), line)
			if err != nil {
				return landedPart{}, err
			}
			if !l.IsZero() {
				k, last, from = j+1, l, l
				held = make([]object.ID, k)
				if err := byRuns(k, l, held); err != nil {
					return landedPart{}, err
				}
				break
			}
		}
	}
	for k < n {
		r, err := runAt(k)
		if err != nil {
			return landedPart{}, err
		}
		m, l, h := r.end-k, r.last, r.held
		if m == 0 && k > 0 {
			// The commits before were found by their header IDs, by an
			// earlier import's end, or by a run that counted commits
			// retried for their keys past its own end, and the run
			// that wrote the next began before: a stream's export,
			// whose first commit kept its ID and whose next was
			// renamed, imported again once its source moved on (a
			// helper's audit: the renamed commit was written again);
			// an export whose commits carry keys (the differential
			// driver of session 28: the run's commits after its
			// first, which had a key, were written again). The run
			// that reaches farthest is taken.
			for j := k - 1; j >= 0; j-- {
				rj, err := runAt(j)
				if err != nil {
					return landedPart{}, err
				}
				if rj.end > k+m {
					m, l, h = rj.end-k, rj.last, rj.held[k-j:]
				}
			}
		}
		if m == 0 && k == n-1 && endsInput {
			// The input's last commit, shorter than the first of a run
			// (a shorter version of an input imported whole, cut inside
			// that run's first commit): found by the run's first event
			// (a helper's audit; a stream's export cut with head -n,
			// its last commit the first of the run a later import of
			// the grown export wrote, was written again until the
			// differential driver of session 28 found it).
			for _, d := range firstDigests(groups, pos, prev, k) {
				if m, l, h, err = longestRun(tx, branchRef, head, firstKey(d), groups[k:], endsInput, line); err != nil {
					return landedPart{}, err
				}
				if m > 0 {
					break
				}
			}
		}
		if m == 0 {
			break
		}
		k, last, held = k+m, l, append(held, h...)
	}
	if inner && k < n {
		anchor := after
		if k > 0 {
			anchor = last
		}
		if err := refuseCutInside(tx, head, groups, pos, prev, k, anchor, line); err != nil {
			return landedPart{}, err
		}
	}
	p := landedPart{k: k, last: last, held: held, from: from, rest: pos}
	switch {
	case k == n:
		p.at = pos.end
	case k > 0:
		var head *blake3.Hasher
		ps, head = pos.prefixes(groups, k)
		p.at = ps[k-1]
		p.rest = spanPos{before: pos.before, head: head, start: ps[k], end: pos.end}
	}
	return p, nil
}

// refuseCutInside refuses the input's commit groups[k] (of a run placed
// by pos) when an earlier import of a shorter version of the input ended
// inside it: that import wrote the commit's first events as its last
// commit (the input has grown since, as a log appended to does, or its
// producer died early). Imported whole, those events would be there
// twice, under a commit that matches nothing (a helper's audit: a
// deposit written twice, exit 0).
//
// Where the input's commits before it are on the branch, ending at
// anchor (the k landed, or the cut before's last commit, prev placing
// that cut), the commit after anchor on the line is that commit if it
// holds groups[k]'s first events and an import's key says an import of
// this input ended there (importEnded): one commit read, whatever the
// commit's size (a review found a key lookup an event made a commit of
// 100,000 events take seconds), and never another writer's commit of the
// same events (a review: a teller's deposit taken for the input's).
// With no anchor (the input's first cut, nothing of it found), a run
// that began with g's first event is found by its firstKey, and for runs
// of earlier builds the prefix key after each of g's first refuseCutMax
// events is looked up.
//
// The refusal names the line to import alone from, unless the commit
// after the earlier import's holds that line's event: then the lines
// were imported apart already, perhaps, and naming the line again would
// have them written twice when followed (a review). Such lines are not
// taken for the input's (another file that begins with the same event
// is not this input: a review found its events lost).
func refuseCutInside(tx *store.Tx, head object.ID, groups []importGroup, pos, prev spanPos, k int, anchor object.ID, line *lineSet) error {
	g := groups[k]
	if len(g.events) < 2 {
		return nil
	}
	// from judges next, a commit on the line that may be an earlier
	// import's last, holding the first events of g; ok says it is, and
	// err is then the refusal.
	from := func(next object.ID) (ok bool, err error) {
		c, err := readCommit(tx, next)
		if err != nil {
			return false, err
		}
		m := len(c.Events)
		if m == 0 || m >= len(g.events) {
			return false, nil
		}
		part := g
		part.events = g.events[:m]
		if ok, err := holds(tx, c, part); err != nil || !ok {
			return false, err
		}
		if ok, err := importEnded(tx, groups, pos, prev, k, m, next); err != nil || !ok {
			return false, err
		}
		msg := fmt.Sprintf("line %d: an import of a shorter version of this input ended inside this commit of %d events, after its first %d, as commit %s; imported whole now, those would be there twice: ", g.line, len(g.events), m, next.Short())
		if g.header != nil {
			return true, &cutInsideError{invalidf("%sdrop its \"id\" and the lines of its first %d events to add the rest", msg, m)}
		}
		apart, err := importedApart(tx, head, next, &g.events[m], line)
		if err != nil {
			return true, err
		}
		if !apart.IsZero() {
			return true, &cutInsideError{invalidf("%scommit %s holds line %d's event: if the lines from there on were imported apart, import only the lines added since, alone", msg, apart.Short(), g.events[m].line)}
		}
		return true, &cutInsideError{invalidf("%simport the lines from line %d on alone", msg, g.events[m].line)}
	}
	if !anchor.IsZero() {
		next, err := line.after(tx, head, anchor)
		if err != nil {
			return err
		}
		if !next.IsZero() {
			if ok, err := from(next); ok || err != nil {
				return err
			}
		}
	}
	// A run that began with g's first event, by its first commit
	// (firstKey): with no commit to go from (the input's first cut,
	// nothing of it found), or where other commits came between (the
	// differential driver of session 28: a commit made between an
	// import and its shorter version's, whose commit was then written
	// again whole)…
	for _, d := range firstDigests(groups, pos, prev, k) {
		uses, err := tx.IdempotencyAll("", firstKey(d))
		if err != nil {
			return err
		}
		for _, u := range uses {
			if on, err := line.has(tx, head, u.Digest); err != nil || !on {
				if err != nil {
					return err
				}
				continue
			}
			if ok, err := from(u.Digest); ok || err != nil {
				return err
			}
		}
	}
	if !anchor.IsZero() {
		return nil
	}
	// … or, for a run written before session 28, which recorded no
	// firstKey, its prefix key after each of g's first events.
	d := pos.digestFrom()
	for m := range min(len(g.events)-1, refuseCutMax) {
		d.add(g.events[m : m+1])
		dig := d
		if g.header != nil {
			dig = &digester{h: d.state()}
			dig.addGroup(importGroup{header: g.header})
		}
		// Import keys are recorded for no branch (since session 15):
		// one index read each.
		uses, err := tx.IdempotencyAll("", prefixKey(prefixDigest(pos.before, dig.sum())))
		if err != nil {
			return err
		}
		for _, u := range uses {
			if on, err := line.has(tx, head, u.Commit); err != nil {
				return err
			} else if on {
				_, err := from(u.Commit)
				return err
			}
		}
	}
	return nil
}

// importedApart returns a commit on head's line after short (an earlier
// import's last commit, cut inside a commit of the input) that begins
// with pe, the input's event after the cut: the commit right after short,
// or the first of a run after it that an import of an input that began
// with pe wrote (its firstKey), past other writers' commits (a review
// found the line named again there, and its advice, followed, wrote it
// twice). ZeroID when there is none.
func importedApart(tx *store.Tx, head, short object.ID, pe *preparedEvent, line *lineSet) (object.ID, error) {
	next, err := line.after(tx, head, short)
	if err != nil || next.IsZero() {
		return object.ZeroID, err
	}
	c, err := readCommit(tx, next)
	if err != nil {
		return object.ZeroID, err
	}
	if len(c.Events) > 0 {
		e, err := readEvent(tx, c.Events[0])
		if err != nil {
			return object.ZeroID, err
		}
		if eventHolds(e, pe) {
			return next, nil
		}
	}
	uses, err := tx.IdempotencyAll("", firstKey(spanPos{}.firstDigest(importGroup{events: []preparedEvent{*pe}})))
	if err != nil || len(uses) == 0 {
		return object.ZeroID, err
	}
	sc, err := readCommit(tx, short)
	if err != nil {
		return object.ZeroID, err
	}
	for _, u := range uses {
		// Only a run after the short commit: one before it is another
		// input's, or this input's own first commit (a review found
		// the line no longer named then).
		if on, err := line.has(tx, head, u.Digest); err != nil {
			return object.ZeroID, err
		} else if !on {
			continue
		}
		c, err := readCommit(tx, u.Digest)
		if err != nil {
			return object.ZeroID, err
		}
		if c.Offset > sc.Offset {
			return u.Digest, nil
		}
	}
	return object.ZeroID, nil
}

// importEnded reports whether an import of this input ended at commit c,
// after the first m events of groups[k] (of a run placed by pos; prev
// places the cut before): its prefix key there names c. The earlier
// import's cut began where this one does, or, for k = 0, where the cut
// before did (a grown commit that no longer fits that cut begins this
// one: a review).
func importEnded(tx *store.Tx, groups []importGroup, pos, prev spanPos, k, m int, c object.ID) (bool, error) {
	g := groups[k]
	part := importGroup{events: g.events[:m], header: g.header}
	var cands []object.ID
	d := pos.digestFrom()
	for _, g := range groups[:k] {
		d.addGroup(g)
	}
	d.addGroup(part)
	cands = append(cands, prefixDigest(pos.before, d.sum()))
	if k == 0 && prev.tail != nil {
		d := &digester{h: prev.tail.Clone()}
		d.addGroup(part)
		cands = append(cands, prefixDigest(prev.before, d.sum()))
	}
	for _, p := range cands {
		uses, err := tx.IdempotencyAll("", prefixKey(p))
		if err != nil {
			return false, err
		}
		for _, u := range uses {
			if u.Commit == c {
				return true, nil
			}
		}
	}
	return false, nil
}

// cutInsideError is refuseCutInside's refusal. The dry run holds it
// until the input is read whole: the same lines imported whole before
// (wholeKey) are a no-op, not a refusal (a helper's audit).
type cutInsideError struct{ error }

func (e *cutInsideError) Unwrap() error { return e.error }

// refuseCutMax bounds the prefix keys refuseCutInside looks up.
const refuseCutMax = 1000

// longestRun returns how many of groups, from the first, a run of
// commits recorded under key (an import-start key: the input's prefix
// digest at the run's first commit) holds on head's first-parent line,
// the most of any run so recorded, the last commit of those, and the
// commit holding each group held (runHolds). A run
// counts whose first commit is on the line, also when the line leaves it
// partway (a branch made inside an earlier import's run: a helper's
// audit found the whole input imported onto it again); and every run
// recorded under the key is tried (runs of one input on two branches
// from one commit: the first found on the line was the shorter).
func longestRun(tx *store.Tx, branchRef string, head object.ID, key string, groups []importGroup, endsInput bool, line *lineSet) (int, object.ID, []object.ID, error) {
	uses, err := tx.IdempotencyAll("", key)
	if err != nil {
		return 0, object.ZeroID, nil, err
	}
	best, bestLast := 0, object.ZeroID
	var bestHeld []object.ID
	try := func(runLast, runFirst object.ID) error {
		if on, err := line.has(tx, head, runFirst); err != nil || !on {
			return err
		}
		m, l, h, err := runHolds(tx, branchRef, head, runFirst, runLast, groups, endsInput, line)
		if err == nil && m > best {
			best, bestLast, bestHeld = m, l, h
		}
		return err
	}
	for _, u := range uses {
		if err := try(u.Commit, u.Digest); err != nil {
			return 0, object.ZeroID, nil, err
		}
	}
	if best == 0 {
		// Builds before session 15 recorded the keys on the branch.
		runLast, runFirst, err := keyLanded(tx, branchRef, head, key, line)
		if err != nil {
			return 0, object.ZeroID, nil, err
		}
		if !runLast.IsZero() {
			if err := try(runLast, runFirst); err != nil {
				return 0, object.ZeroID, nil, err
			}
		}
	}
	return best, bestLast, bestHeld, nil
}

// runCommits returns the commits of a run from first to last, oldest
// first, as far as a run may hold (nil when last does not lead back to
// first). Where gc dropped last, off the line since the branch moved back
// into the run, what is left of the run follows first on head's line (on
// which the caller saw first): taken forward from it (a review: walked
// back from head instead, other writers' commits since the move back kept
// the walk from reaching first).
func runCommits(tx *store.Tx, head, first, last object.ID, line *lineSet) ([]object.ID, []*object.Commit, error) {
	var run []object.ID
	var commits []*object.Commit
	c, err := readCommit(tx, last)
	if errors.Is(err, ErrNotFound) {
		for id := first; !id.IsZero() && len(run) <= importBatchCommits; {
			c, err := readCommit(tx, id)
			if err != nil {
				return nil, nil, err
			}
			run, commits = append(run, id), append(commits, c)
			if id, err = line.after(tx, head, id); err != nil {
				return nil, nil, err
			}
		}
		return run, commits, nil
	}
	for id := last; ; {
		if err != nil {
			return nil, nil, err
		}
		run, commits = append(run, id), append(commits, c)
		if id == first {
			break
		}
		if id = c.Parent(); id.IsZero() || len(run) > importBatchCommits {
			return nil, nil, nil
		}
		c, err = readCommit(tx, id)
	}
	slices.Reverse(run)
	slices.Reverse(commits)
	return run, commits, nil
}

// runHolds returns how many of groups, from the first, the run of
// commits from first to last (first-parent, one transaction of an import)
// holds in order, commit for commit (holds), and the last of those
// commits. Only the run's commits on head's line count: the line may
// leave the run partway. A commit of groups whose idempotency key names
// a commit on head's line outside the run was retried when the run was
// written, not added: it counts as held, and takes no commit of the run.
// With endsInput, the last of groups is held by a commit whose first
// events it holds (holdsFirst). The commits holding the groups held are
// returned too, one a group.
func runHolds(tx *store.Tx, branchRef string, head, first, last object.ID, groups []importGroup, endsInput bool, line *lineSet) (int, object.ID, []object.ID, error) {
	run, commits, err := runCommits(tx, head, first, last, line)
	if err != nil || run == nil {
		return 0, object.ZeroID, nil, err
	}
	// The run's commits on the line are its first ones, up to where the
	// line leaves it: found by halving, the line's commits being cached.
	if on, err := line.has(tx, head, run[len(run)-1]); err != nil {
		return 0, object.ZeroID, nil, err
	} else if !on {
		lo, hi := 0, len(run)-1 // run[lo] on the line (the caller saw to it), run[hi] not
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			on, err := line.has(tx, head, run[mid])
			if err != nil {
				return 0, object.ZeroID, nil, err
			}
			if on {
				lo = mid
			} else {
				hi = mid
			}
		}
		run, commits = run[:lo+1], commits[:lo+1]
	}
	m, at := 0, 0 // groups held, commits of the run taken
	// held is the last commit on the line of those holding the groups:
	// a run's, or one a retried commit's key names past the run's end
	// (the differential driver of session 29: the anchor was the run's
	// last commit, before two retried ones, and a shorter import's end
	// after them went unseen, its commit written again).
	var held object.ID
	var heldAt uint64       // held's offset
	var byGroup []object.ID // the commit holding each group held
	for m < len(groups) {
		g := groups[m]
		if g.header != nil && g.header.IdempotencyKey != "" {
			c, _, ok, err := keyOnLine(tx, branchRef, head, g.header.IdempotencyKey, line)
			if err != nil {
				return 0, object.ZeroID, nil, err
			}
			if ok && (at == len(run) || c != run[at]) {
				// Retried: its commit is elsewhere on the line.
				rc, err := readCommit(tx, c)
				if err != nil {
					return 0, object.ZeroID, nil, err
				}
				if rc.Offset > heldAt {
					held, heldAt = c, rc.Offset
				}
				byGroup = append(byGroup, c)
				m++
				continue
			}
		}
		if at == len(run) {
			break
		}
		ok, err := holds(tx, commits[at], g)
		if err == nil && !ok && endsInput && m == len(groups)-1 && len(g.events) < len(commits[at].Events) {
			ok, err = holdsFirst(tx, commits[at], g)
		}
		if err != nil {
			return 0, object.ZeroID, nil, err
		}
		if !ok {
			break
		}
		if commits[at].Offset > heldAt {
			held, heldAt = run[at], commits[at].Offset
		}
		byGroup = append(byGroup, run[at])
		m, at = m+1, at+1
	}
	// Commits retried alone, with none of the run taken, are held too:
	// their keys are on the line (a review found the commit after them,
	// which an import of a cut of the input ended inside, written again
	// whole when they were not counted).
	return m, held, byGroup, nil
}
