package evgit

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// Ref is a branch or tag.
type Ref struct {
	// Name is the short name, without refs/heads/ or refs/tags/.
	Name string `json:"name"`
	// Commit is the commit the ref points at.
	Commit object.ID `json:"commit"`
	// Current reports the branch HEAD names; never set for a tag.
	Current bool `json:"current,omitempty"`
}

// Branches yields the branches by name; the one HEAD names is Current.
func (r *Repository) Branches(ctx context.Context) iter.Seq2[Ref, error] {
	return r.listRefs(ctx, refs.HeadsPrefix)
}

// Tags yields the tags by name.
func (r *Repository) Tags(ctx context.Context) iter.Seq2[Ref, error] {
	return r.listRefs(ctx, refs.TagsPrefix)
}

// listRefs yields the refs under prefix, by name, as they stood when the
// iteration began.
func (r *Repository) listRefs(ctx context.Context, prefix string) iter.Seq2[Ref, error] {
	return func(yield func(Ref, error) bool) {
		out, err := r.refsUnder(ctx, prefix)
		if err != nil {
			yield(Ref{}, err)
			return
		}
		yieldAll(ctx, out, yield)
	}
}

func (r *Repository) refsUnder(ctx context.Context, prefix string) ([]Ref, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	all := r.st.Refs()
	head := all[refs.HEAD]
	var out []Ref
	for name, v := range all {
		if !strings.HasPrefix(name, prefix) || v.IsSymbolic() {
			continue
		}
		out = append(out, Ref{Name: name[len(prefix):], Commit: v.ID, Current: head.Symbolic == name})
	}
	slices.SortFunc(out, func(a, b Ref) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// CurrentBranch returns the branch HEAD names, or "" when HEAD is
// detached, as HEAD stands now (another process may have moved it).
func (r *Repository) CurrentBranch(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if err := r.refresh(); err != nil {
		return "", err
	}
	if v, ok := r.st.Ref(refs.HEAD); ok && v.IsSymbolic() {
		return shortBranch(v.Symbolic), nil
	}
	return "", nil
}

// CreateBranch creates a branch at a revision (HEAD when empty). A name
// Git would refuse, a branch that exists already and an actor with
// control characters are errors matching ErrInvalid; a revision that
// names no commit, ErrNotFound.
func (r *Repository) CreateBranch(ctx context.Context, name, rev, actor string) (object.ID, error) {
	if err := refs.CheckBranchName(name); err != nil {
		return object.ZeroID, invalidf("%v", err)
	}
	return r.createRef(ctx, refs.HeadsPrefix+name, "branch", name, rev, actor)
}

// CreateTag creates a tag at a revision (HEAD when empty), with the
// errors of CreateBranch.
func (r *Repository) CreateTag(ctx context.Context, name, rev, actor string) (object.ID, error) {
	if err := refs.CheckTagName(name); err != nil {
		return object.ZeroID, invalidf("%v", err)
	}
	return r.createRef(ctx, refs.TagsPrefix+name, "tag", name, rev, actor)
}

func (r *Repository) createRef(ctx context.Context, full, what, name, rev, actor string) (object.ID, error) {
	if err := checkActor(actor); err != nil {
		return object.ZeroID, err
	}
	if rev == "" {
		rev = refs.HEAD
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return id, err
	}
	refResolved()
	err = r.st.Update(ctx, func(tx *store.Tx) error {
		if err := newRefFree(tx, full, what, name); err != nil {
			return err
		}
		if err := stillHeld(tx, id, rev); err != nil {
			return err
		}
		return tx.UpdateRef(refs.Update{Name: full, New: id, Time: now(), Actor: actor, Message: what + ": Created from " + rev})
	})
	return id, err
}

// refResolved is where a test runs a gc between resolving a new ref's
// revision and moving the ref.
var refResolved = func() {}

// stillHeld refuses to point a ref at a commit the store no longer holds.
// A revision is resolved before the transaction that moves the ref, and a
// gc in between (in another process, or another goroutine) may have
// dropped the commit it named, unreachable then; the ref would name
// nothing, and every later gc would stop at it. Found by a helper's
// audit: branch NAME ID beside a gc --prune=now.
func stillHeld(tx *store.Tx, id object.ID, rev string) error {
	if tx.Has(id) {
		return nil
	}
	return fmt.Errorf("%w %q: %s is gone (a gc dropped it)", walk.ErrUnknownRevision, rev, id.Short())
}

// newRefFree refuses to make a ref where one of that name is, or where
// it would clash with another as a path (refPathFree).
func newRefFree(tx *store.Tx, full, what, name string) error {
	if _, ok := tx.Ref(full); ok {
		return invalidf("a %s named '%s' already exists", what, name)
	}
	return refPathFree(tx, full, what, name)
}

// refPathFree refuses a ref that would clash with another as a path, as
// Git refuses refs/heads/x/y beside refs/heads/x: one of them could not
// be a file beside the other in a Git repository, so an export to Git, or
// a user who reads names as paths, would meet two things of one name.
//
// The folders above full are looked up one by one and only the refs
// below it are listed: listing every ref and sorting them on each create
// made creating 10,000 refs quadratic (7 ms a create at 10,000 refs; a
// helper's audit).
func refPathFree(tx *store.Tx, full, what, name string) error {
	for i := len("refs/"); i < len(full); i++ {
		if full[i] != '/' {
			continue
		}
		if _, ok := tx.Ref(full[:i]); ok {
			return invalidf("cannot create %s '%s': '%s' exists", what, name, full[:i])
		}
	}
	if below := tx.RefNames(full + "/"); len(below) > 0 {
		return invalidf("cannot create %s '%s': '%s' exists", what, name, below[0])
	}
	return nil
}

// DeleteBranch deletes a branch and its reflog. An unknown branch is an
// error matching ErrNotFound; the branch HEAD names cannot be deleted (an
// error matching ErrInvalid).
func (r *Repository) DeleteBranch(ctx context.Context, name, actor string) (object.ID, error) {
	return r.deleteOne(ctx, refs.HeadsPrefix, "branch", name, actor, false)
}

// DeleteMergedBranch deletes a branch only when HEAD's commit holds its
// commit on its first-parent line, as `git branch -d` deletes only a
// branch merged into HEAD: a branch with commits nothing else reaches is
// refused (an error matching ErrInvalid), since gc would drop them.
// DeleteBranch deletes it whatever it holds.
func (r *Repository) DeleteMergedBranch(ctx context.Context, name, actor string) (object.ID, error) {
	return r.deleteOne(ctx, refs.HeadsPrefix, "branch", name, actor, true)
}

// DeleteBranches deletes several branches at once, all or none: the
// first that cannot be deleted (as DeleteBranch, or with onlyMerged as
// DeleteMergedBranch, would refuse it) is the error, and no branch is
// deleted. It returns the commit each branch named, in the order given;
// a name given twice is deleted once.
func (r *Repository) DeleteBranches(ctx context.Context, names []string, actor string, onlyMerged bool) ([]object.ID, error) {
	return r.deleteRefs(ctx, refs.HeadsPrefix, "branch", names, actor, onlyMerged)
}

// DeleteTags deletes several tags at once, all or none, as
// DeleteBranches does branches.
func (r *Repository) DeleteTags(ctx context.Context, names []string, actor string) ([]object.ID, error) {
	return r.deleteRefs(ctx, refs.TagsPrefix, "tag", names, actor, false)
}

// DeleteTag deletes a tag; an unknown one is an error matching
// ErrNotFound.
func (r *Repository) DeleteTag(ctx context.Context, name, actor string) (object.ID, error) {
	return r.deleteOne(ctx, refs.TagsPrefix, "tag", name, actor, false)
}

// deleteOne is deleteRefs of one name.
func (r *Repository) deleteOne(ctx context.Context, prefix, what, name, actor string, merged bool) (object.ID, error) {
	olds, err := r.deleteRefs(ctx, prefix, what, []string{name}, actor, merged)
	if err != nil {
		return object.ZeroID, err
	}
	return olds[0], nil
}

// deleteRefs deletes the refs prefix+name of names in one transaction,
// all or none; with merged, each only when HEAD's first-parent line
// holds its commit.
func (r *Repository) deleteRefs(ctx context.Context, prefix, what string, names []string, actor string, merged bool) ([]object.ID, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	var olds []object.ID
	var head0 object.ID
	var merged0 map[object.ID]bool
	if merged {
		head0, merged0 = r.onHeadLine(ctx, prefix, names)
	}
	err := r.st.Update(ctx, func(tx *store.Tx) error {
		olds = make([]object.ID, len(names))
		var line lineSet
		deleted := map[string]object.ID{}
		for i, name := range names {
			full := prefix + name
			if id, ok := deleted[full]; ok {
				olds[i] = id
				continue
			}
			v, ok := tx.Ref(full)
			if !ok {
				return fmt.Errorf("%s %s: %w", what, quotedName(name), ErrNotFound)
			}
			if head, _ := tx.Ref(refs.HEAD); head.Symbolic == full {
				return invalidf("cannot delete the branch '%s' HEAD is on", name)
			}
			if merged {
				head, _, _ := tx.Resolve(refs.HEAD)
				on := head == v.ID || head == head0 && merged0[v.ID]
				if !on && !head.IsZero() {
					var err error
					if on, err = line.has(tx, head, v.ID); err != nil {
						return err
					}
				}
				if !on {
					return invalidf("the branch '%s' is not fully merged; if you are sure you want to delete it, run 'evgit branch -D %s'", name, name)
				}
			}
			olds[i], deleted[full] = v.ID, v.ID
			if err := tx.UpdateRef(refs.Update{Name: full, Old: v.ID, Delete: true, Time: now(), Actor: actor, Message: what + ": deleted"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return olds, nil
}

// onHeadLine finds, before deleteRefs takes the lock, which of the
// names' commits HEAD's first-parent line holds, in the line index (read
// from cache/line, or built once and saved there): deleteRefs trusts the
// answer while HEAD stays where it was, and walks the line only for the
// others. Walking it commit by commit in each call took 1.3 s for a
// branch 150,000 commits down, and 129 s for 100 calls (a helper's audit
// of many refs). Only a commit far down the line is looked up so: near
// HEAD the walk is short, and building the index of a long line for it
// would cost more. Any failure here only leaves the walk to do the work.
func (r *Repository) onHeadLine(ctx context.Context, prefix string, names []string) (object.ID, map[object.ID]bool) {
	head, err := r.Resolve(ctx, refs.HEAD)
	if err != nil {
		return object.ZeroID, nil
	}
	hc, err := r.st.Commit(head)
	if err != nil {
		return object.ZeroID, nil
	}
	far := map[object.ID]uint64{} // commit → offset
	for _, name := range names {
		ref, ok := r.st.Ref(prefix + name)
		if !ok || ref.IsSymbolic() {
			continue
		}
		if c, err := r.st.Commit(ref.ID); err == nil && c.Offset+farOnLine < hc.Offset {
			far[ref.ID] = c.Offset
		}
	}
	if len(far) == 0 {
		return object.ZeroID, nil
	}
	on := map[object.ID]bool{}
	err = r.onLine(ctx, r.st, head, func(v *lineView) error {
		for id, offset := range far {
			// A merge of no events shares its parent's offset.
			p := sort.Search(v.pos+1, func(i int) bool { return v.offsets[i] >= offset })
			for ; p <= v.pos && v.offsets[p] == offset; p++ {
				if v.ids[p] == id {
					on[id] = true
				}
			}
		}
		return nil
	})
	if err != nil {
		return object.ZeroID, nil
	}
	return head, on
}

// farOnLine is how many events below HEAD a branch's commit must lie for
// branch -d to look it up in the line index rather than walk to it.
const farOnLine = 10_000

// quotedName quotes a ref name the user gave as Git does ('main'), or, when
// it holds what no ref name may (a control character, bytes that are not
// UTF-8), as Go does ("a\nb"): the message stays one line.
func quotedName(name string) string {
	if plainText(name) {
		return "'" + name + "'"
	}
	return strconv.Quote(name)
}
