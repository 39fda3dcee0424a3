package evgit

import (
	"encoding/hex"
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
	return spanPos{before: before, start: start, end: end}
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

// landedPart is what of a run of an import's commits is on the branch
// already: its first k commits, ending at commit last; at is the input's
// prefix digest after the k-th commit, and rest the place of the run's
// other commits (when k is less than all).
type landedPart struct {
	k    int
	last object.ID
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
func findLanded(tx *store.Tx, branchRef string, head object.ID, groups []importGroup, pos spanPos, inner bool, line *lineSet) (landedPart, error) {
	n := len(groups)
	if head.IsZero() || n == 0 {
		// Nothing landed; the run still records its keys.
		return landedPart{rest: pos}, nil
	}
	last, _, err := keyLanded(tx, branchRef, head, prefixKey(pos.end), line)
	if err != nil || !last.IsZero() {
		return landedPart{k: n, last: last, at: pos.end}, err
	}
	// The prefix digests inside the run: computed on first need.
	var ps []object.ID
	prefixes := func() []object.ID {
		if ps == nil {
			ps, _ = pos.prefixes(groups, -1)
		}
		return ps
	}
	k, last, err := idsOnLine(tx, head, groups, line)
	if err != nil {
		return landedPart{}, err
	}
	if k == 0 && inner {
		for j := n - 2; j >= 0; j-- {
			l, _, err := keyLanded(tx, branchRef, head, prefixKey(prefixes()[j]), line)
			if err != nil {
				return landedPart{}, err
			}
			if !l.IsZero() {
				k, last = j+1, l
				break
			}
		}
	}
	for k < n {
		s := pos.start
		if k > 0 {
			s = prefixes()[k]
		}
		runLast, runFirst, err := keyLanded(tx, branchRef, head, startKey(s), line)
		if err != nil {
			return landedPart{}, err
		}
		if runLast.IsZero() {
			break
		}
		m, l, err := runHolds(tx, branchRef, head, runFirst, runLast, groups[k:], line)
		if err != nil {
			return landedPart{}, err
		}
		if m == 0 {
			break
		}
		k, last = k+m, l
	}
	if inner && k < n {
		if err := refuseCutInside(tx, branchRef, head, groups, pos, k, line); err != nil {
			return landedPart{}, err
		}
	}
	p := landedPart{k: k, last: last, rest: pos}
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
// producer died early), and recorded its prefix key there. Imported
// whole, those events would be there twice, under a commit that matches
// nothing (a helper's audit: a deposit written twice, exit 0). Each
// shorter cut costs a digest and a key lookup, so it is asked for only
// where an earlier import may have ended (findLanded's inner).
func refuseCutInside(tx *store.Tx, branchRef string, head object.ID, groups []importGroup, pos spanPos, k int, line *lineSet) error {
	g := groups[k]
	if len(g.events) < 2 {
		return nil
	}
	_, at := pos.prefixes(groups[:k+1], k)
	d := &digester{h: at}
	for m := range len(g.events) - 1 {
		d.add(g.events[m : m+1])
		dig := d
		if g.header != nil {
			dig = &digester{h: d.state()}
			dig.addGroup(importGroup{header: g.header})
		}
		landed, _, err := keyLanded(tx, branchRef, head, prefixKey(prefixDigest(pos.before, dig.sum())), line)
		if err != nil {
			return err
		}
		if !landed.IsZero() {
			fix := fmt.Sprintf("import the lines from line %d on alone", g.events[m+1].line)
			if g.header != nil {
				fix = fmt.Sprintf("drop its \"id\" and the lines of its first %d events to add the rest", m+1)
			}
			return invalidf("line %d: an import of a shorter version of this input ended inside this commit of %d events, after its first %d, as commit %s; imported whole now, those would be there twice: %s", g.line, len(g.events), m+1, landed.Short(), fix)
		}
	}
	return nil
}

// runHolds returns how many of groups, from the first, the run of
// commits from first to last (first-parent, one transaction of an import)
// holds in order, commit for commit (holds), and the last of those
// commits. A commit of groups whose idempotency key names a commit on
// head's line outside the run was retried when the run was written, not
// added: it counts as held, and takes no commit of the run.
func runHolds(tx *store.Tx, branchRef string, head, first, last object.ID, groups []importGroup, line *lineSet) (int, object.ID, error) {
	var run []object.ID
	var commits []*object.Commit
	for id := last; len(run) <= importBatchCommits; {
		c, err := readCommit(tx, id)
		if err != nil {
			return 0, object.ZeroID, err
		}
		run, commits = append(run, id), append(commits, c)
		if id == first {
			break
		}
		if id = c.Parent(); id.IsZero() {
			return 0, object.ZeroID, nil
		}
	}
	if run[len(run)-1] != first {
		return 0, object.ZeroID, nil
	}
	slices.Reverse(run)
	slices.Reverse(commits)
	m, at := 0, 0 // groups held, commits of the run taken
	var held object.ID
	for m < len(groups) {
		g := groups[m]
		if g.header != nil && g.header.IdempotencyKey != "" {
			c, _, ok, err := keyOnLine(tx, branchRef, head, g.header.IdempotencyKey, line)
			if err != nil {
				return 0, object.ZeroID, err
			}
			if ok && (at == len(run) || c != run[at]) {
				m++ // retried: its commit is elsewhere on the line
				continue
			}
		}
		if at == len(run) {
			break
		}
		ok, err := holds(tx, commits[at], g)
		if err != nil {
			return 0, object.ZeroID, err
		}
		if !ok {
			break
		}
		m, at, held = m+1, at+1, run[at]
	}
	if at == 0 {
		return 0, object.ZeroID, nil // nothing of the run: not this input's
	}
	return m, held, nil
}
