package evgit

import (
	"encoding/hex"
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
// (startKey), whose value names the run's last and first commits. The
// first finds a batch that landed whole, or, looked up at each of a
// batch's commits, where an earlier, shorter import of the input ended;
// the second finds a run that an earlier, longer import of the input
// wrote from there, and that run's commits, compared with the input's
// event for event, say how far this input's commits landed in it.

// spanPos places a run of an import's commits in its input: before is
// the prefix digest where the run's cut begins, atCut that the run
// begins the cut (a part after a split does not), start and end the
// prefix digests at the run's first and last commits (zero when not
// known).
type spanPos struct {
	before     object.ID
	atCut      bool
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
	return spanPos{before: before, atCut: true, start: start, end: end}
}

// cutPrefixes returns the input's prefix digest after each commit of a
// cut that begins where the prefix digest is before.
func cutPrefixes(before object.ID, groups []importGroup) []object.ID {
	ps := make([]object.ID, len(groups))
	var d digester
	for j, g := range groups {
		d.addGroup(g)
		ps[j] = prefixDigest(before, d.sum())
	}
	return ps
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
// value holds the run's last commit, then its first.
func startKey(prefix object.ID) string {
	return "\x00import-start\x00" + hex.EncodeToString(prefix[:])
}

// keyLanded returns the commit an import key names on branchRef, when
// that commit is on head's first-parent line, and the second ID of the
// key's value; ZeroIDs otherwise.
func keyLanded(tx *store.Tx, branchRef string, head object.ID, key string, line *lineSet) (object.ID, object.ID, error) {
	last, second, ok, err := tx.Idempotency(branchRef, key)
	if err != nil || !ok {
		return object.ZeroID, object.ZeroID, err
	}
	if ok, err = line.has(tx, head, last); err != nil || !ok {
		return object.ZeroID, object.ZeroID, err
	}
	return last, second, nil
}

// landedPart is what of a run of an import's commits is on the branch
// already: its first k commits, ending at commit last; at and next are
// the input's prefix digests after the k-th commit and after the next
// one (zero when not known).
type landedPart struct {
	k        int
	last     object.ID
	at, next object.ID
}

// findLanded returns how many commits at the start of groups, a run of
// an import's commits placed in its input by pos, are on head's
// first-parent line already: all of them when the prefix key at the
// run's end is; else those whose header IDs are, and from there on as
// far as the runs that imports of the input wrote from there hold the
// same commits (an import of a longer, a shorter or the same version of
// the input, run before or beside this one).
func findLanded(tx *store.Tx, branchRef string, head object.ID, groups []importGroup, pos spanPos, line *lineSet) (landedPart, error) {
	n := len(groups)
	if head.IsZero() || n == 0 {
		return landedPart{}, nil
	}
	if !pos.end.IsZero() {
		last, _, err := keyLanded(tx, branchRef, head, prefixKey(pos.end), line)
		if err != nil || !last.IsZero() {
			return landedPart{k: n, last: last, at: pos.end}, err
		}
	}
	// The prefix digests inside the run are known when it begins a cut:
	// computed on first need.
	var ps []object.ID
	prefixes := func() []object.ID {
		if ps == nil && pos.atCut {
			ps = cutPrefixes(pos.before, groups)
		}
		return ps
	}
	k, last, err := idsOnLine(tx, head, groups, line)
	if err != nil {
		return landedPart{}, err
	}
	for k < n {
		var s object.ID
		switch {
		case k == 0:
			s = pos.start
		case prefixes() != nil:
			s = ps[k]
		}
		if s.IsZero() {
			break
		}
		runLast, runFirst, err := keyLanded(tx, branchRef, head, startKey(s), line)
		if err != nil {
			return landedPart{}, err
		}
		if runLast.IsZero() {
			break
		}
		m, l, err := runHolds(tx, runFirst, runLast, groups[k:])
		if err != nil {
			return landedPart{}, err
		}
		if m == 0 {
			break
		}
		k, last = k+m, l
	}
	p := landedPart{k: k, last: last}
	switch {
	case k == 0:
		p.next = pos.start
	case k == n:
		p.at = pos.end
	case prefixes() != nil:
		p.at, p.next = ps[k-1], ps[k]
	}
	return p, nil
}

// runHolds returns how many of groups, from the first, the run of
// commits from first to last (first-parent, one transaction of an import)
// holds in order, commit for commit (holds), and the last of those
// commits.
func runHolds(rd reader, first, last object.ID, groups []importGroup) (int, object.ID, error) {
	var run []object.ID
	var commits []*object.Commit
	for id := last; len(run) <= importBatchCommits; {
		c, err := readCommit(rd, id)
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
	m := 0
	for m < len(groups) && m < len(run) {
		ok, err := holds(rd, commits[m], groups[m])
		if err != nil {
			return 0, object.ZeroID, err
		}
		if !ok {
			break
		}
		m++
	}
	if m == 0 {
		return 0, object.ZeroID, nil
	}
	return m, run[m-1], nil
}
