package evgit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"iter"
	"slices"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/snapshot"
)

// TreeEntry is one stream of the snapshot at a revision; its JSON is one
// line of `ls-tree --json`.
type TreeEntry struct {
	Stream  string `json:"stream"`  // the stream's name
	Version uint64 `json:"version"` // the stream's events at the revision
	// Hash is the ID of the state as a blob, object.Hash(KindBlob, its
	// canonical JSON), as snapshot leaves name it: equal states have
	// equal hashes. A state of more than object.InlineStateMax bytes that
	// a recorded snapshot holds is stored as that blob, which cat-file
	// reads; a smaller one lives in its leaf, and a state folded since
	// the last snapshot is stored nowhere: no object has its hash.
	Hash object.ID `json:"hash"`
}

// treeView is the snapshot of every stream at a commit, readable.
type treeView struct {
	id    object.ID
	root  object.ID
	snaps *snapshot.Reader
}

// treeViews returns the snapshots at commits, computing in memory those
// that are not recorded, through one overlay.
func (r *Repository) treeViews(ctx context.Context, ids ...object.ID) ([]treeView, error) {
	mdl, mdlID, err := r.model()
	if err != nil {
		return nil, err
	}
	l := newLoader(r, r.st, mdl, mdlID)
	l.ctx = ctx
	ov := snapshot.NewOverlay(r.st)
	rd := snapshot.NewReader(ov, r.derived().nodes)
	out := make([]treeView, len(ids))
	for i, id := range ids {
		root, err := l.treeAt(ov, id)
		if err != nil {
			return nil, err
		}
		out[i] = treeView{id: id, root: root, snaps: rd}
	}
	return out, nil
}

// Tree yields every stream at a revision ("" for HEAD) with its version
// and state hash, sorted by name (SPEC §3 `ls-tree`).
func (r *Repository) Tree(ctx context.Context, rev string) iter.Seq2[TreeEntry, error] {
	return func(yield func(TreeEntry, error) bool) {
		_, _, entries, err := r.entriesAt(ctx, rev)
		if err != nil {
			yield(TreeEntry{}, err)
			return
		}
		all := make([]TreeEntry, len(entries))
		for i, e := range entries {
			all[i] = TreeEntry{Stream: e.Stream, Version: e.Version, Hash: e.StateID}
		}
		yieldAll(ctx, all, yield)
	}
}

// States yields every stream at a revision ("" for HEAD) with its
// version and state, sorted by name: the whole state at any version,
// read from the nearest snapshot and the events after it, as checkout
// writes it to files.
func (r *Repository) States(ctx context.Context, rev string) iter.Seq2[StreamState, error] {
	return func(yield func(StreamState, error) bool) {
		id, view, entries, err := r.entriesAt(ctx, rev)
		if err != nil {
			yield(StreamState{}, err)
			return
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				yield(StreamState{}, err)
				return
			}
			st, err := view.snaps.State(e)
			if err != nil {
				yield(StreamState{}, err)
				return
			}
			// The caller's copy, not the node cache's.
			if !yield(StreamState{Stream: e.Stream, Version: e.Version, State: bytes.Clone(st), Commit: id}, nil) {
				return
			}
		}
	}
}

// entriesAt returns the snapshot entries of every stream at a revision,
// sorted by name, with the commit and the view that reads their states.
func (r *Repository) entriesAt(ctx context.Context, rev string) (object.ID, treeView, []object.TreeEntry, error) {
	if rev == "" {
		rev = "HEAD" // as State and Events take it
	}
	id, err := r.Resolve(ctx, rev)
	if err != nil {
		return id, treeView{}, nil, err
	}
	views, err := r.treeViews(ctx, id)
	if err != nil {
		return id, treeView{}, nil, err
	}
	var all []object.TreeEntry
	for e, err := range views[0].snaps.All(views[0].root) {
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return id, treeView{}, nil, err
		}
		all = append(all, e)
	}
	slices.SortFunc(all, func(a, b object.TreeEntry) int { return cmp.Compare(a.Stream, b.Stream) })
	return id, views[0], all, nil
}

// yieldAll yields items in order until yield says stop, or the context
// ends, which it yields as the last error.
func yieldAll[T any](ctx context.Context, items []T, yield func(T, error) bool) {
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			var zero T
			yield(zero, err)
			return
		}
		if !yield(it, nil) {
			return
		}
	}
}

// StreamVersion is a stream's version and state on one side of a diff.
type StreamVersion struct {
	Version uint64          `json:"version"` // the stream's events on that side
	State   json.RawMessage `json:"state"`   // the stream's state there, as JSON
}

// Change kinds of a StreamChange.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// StreamChange is a stream whose state differs between two revisions;
// its JSON is one line of `diff --json`. Old is nil for an added stream,
// New for a removed one.
type StreamChange struct {
	Stream string         `json:"stream"`        // the stream's name
	Status string         `json:"status"`        // ChangeAdded, ChangeRemoved or ChangeChanged
	Old    *StreamVersion `json:"old,omitempty"` // the stream at the first revision (a)
	New    *StreamVersion `json:"new,omitempty"` // the stream at the second revision (b)
}

// Diff yields the streams whose state differs between revisions a and b,
// sorted by name (SPEC §3 `diff A B`): added (in b only), removed (in a
// only) and changed, with both versions and states. A stream whose
// events left its state as it was (the version moved, the state did
// not) is not a difference. The snapshot trees are compared by node ID,
// so unchanged subtrees are skipped without being read. An empty
// revision means HEAD.
func (r *Repository) Diff(ctx context.Context, a, b string) iter.Seq2[StreamChange, error] {
	return func(yield func(StreamChange, error) bool) {
		ia, err := r.Resolve(ctx, a)
		if err != nil {
			yield(StreamChange{}, err)
			return
		}
		ib, err := r.Resolve(ctx, b)
		if err != nil {
			yield(StreamChange{}, err)
			return
		}
		views, err := r.treeViews(ctx, ia, ib)
		if err != nil {
			yield(StreamChange{}, err)
			return
		}
		rd := views[0].snaps
		side := func(e *object.TreeEntry) (*StreamVersion, error) {
			if e == nil {
				return nil, nil
			}
			st, err := rd.State(*e)
			if err != nil {
				return nil, err
			}
			return &StreamVersion{Version: e.Version, State: bytes.Clone(st)}, nil // the caller's
		}
		var out []StreamChange
		for d, err := range rd.Diff(views[0].root, views[1].root) {
			if err == nil {
				err = ctx.Err()
			}
			if err != nil {
				yield(StreamChange{}, err)
				return
			}
			if d.Old != nil && d.New != nil && d.Old.StateID == d.New.StateID {
				continue
			}
			c := StreamChange{Stream: d.Stream(), Status: ChangeChanged}
			switch {
			case d.Old == nil:
				c.Status = ChangeAdded
			case d.New == nil:
				c.Status = ChangeRemoved
			}
			if c.Old, err = side(d.Old); err == nil {
				c.New, err = side(d.New)
			}
			if err != nil {
				yield(StreamChange{}, err)
				return
			}
			out = append(out, c)
		}
		slices.SortFunc(out, func(a, b StreamChange) int { return cmp.Compare(a.Stream, b.Stream) })
		yieldAll(ctx, out, yield)
	}
}
