package evgit

import (
	"bytes"
	"context"
	"fmt"
	"math/bits"
	"strings"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

// ObjectInfo is one stored object, decoded: exactly one of Commit, Event,
// Tree and Blob is set.
type ObjectInfo struct {
	ID     object.ID      // the object's full ID
	Kind   object.Kind    // commit, event, tree or blob
	Size   int            // length of the canonical body
	Commit *object.Commit // the decoded commit, for a commit
	Event  *object.Event  // with its Data
	Tree   *object.Tree   // the decoded snapshot node, for a tree
	Blob   []byte         // the blob's bytes, for a blob
}

// ReadObject reads any object named by a full or abbreviated hex ID (at
// least 4 digits) or, failing that, by a revision; an empty name means
// HEAD, as an empty revision does wherever the library takes one.
func (r *Repository) ReadObject(ctx context.Context, name string) (*ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := r.refresh(); err != nil {
		return nil, err
	}
	if name == "" {
		name = "HEAD"
	}
	id, err := r.objectID(ctx, name)
	if err != nil {
		return nil, err
	}
	kind, body, data, err := r.st.Get(id)
	if err != nil {
		return nil, err
	}
	// The body and an event's data are the store's cached bytes: a
	// tree's inline states and a blob are slices of what they decode
	// from, so the caller gets copies, which it may change. A commit
	// and an event decode into values of their own.
	info := &ObjectInfo{ID: id, Kind: kind, Size: len(body)}
	switch kind {
	case object.KindCommit:
		info.Commit, err = object.DecodeCommit(body)
	case object.KindEvent:
		if info.Event, err = object.DecodeEvent(body); err == nil {
			info.Event.Data = bytes.Clone(data) // checked against its DataID when its frame was read
		}
	case object.KindTree:
		info.Tree, err = object.DecodeTree(bytes.Clone(body))
	case object.KindBlob:
		info.Blob = bytes.Clone(body)
	}
	if err != nil {
		return nil, err
	}
	return info, nil
}

func (r *Repository) objectID(ctx context.Context, name string) (object.ID, error) {
	if len(name) == 2*object.IDSize && isHex(name) {
		return object.ParseID(strings.ToLower(name))
	}
	if len(name) >= 4 && isHex(name) && !r.namesRef(name) {
		cands := r.st.Prefix(strings.ToLower(name), 0)
		switch len(cands) {
		case 1:
			return cands[0], nil
		case 0:
			// Hex that is no ref's name names an object, and no
			// object has it: said as for a full ID.
			return object.ZeroID, fmt.Errorf("object %s: %w", name, ErrNotFound)
		default:
			return object.ZeroID, fmt.Errorf("%w %q: candidates %s", walk.ErrAmbiguous, name, strings.Join(walk.ShortIDs(cands), ", "))
		}
	}
	src := newLineSource(r.st)
	src.warn = r.warn
	return walk.Resolve(ctx, src, name)
}

// namesRef reports whether name is a ref's short name: such a ref wins
// over an abbreviated object ID, as in Git (and in revisions).
func (r *Repository) namesRef(name string) bool {
	for _, full := range walk.RefCandidates(name) {
		if _, ok := r.st.Ref(full); ok {
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Abbrev returns how many hex digits the command line prints of a commit
// ID for this repository, as Git's core.abbrev "auto" chooses them: 7,
// or more once the objects are many enough that 7 digits would often
// name two (about one ID in a hundred at a million events). It reads no
// file; call it again after large writes.
func (r *Repository) Abbrev() int {
	return abbrevFor(r.st.ApproxObjects())
}

// abbrevFor is Git's rule: with about 2^b objects (b the bits of their
// count), IDs of 2b bits seldom meet, and b/2 hex digits, rounded up,
// hold 2b bits; at least 7.
func abbrevFor(objects int) int {
	n := (bits.Len(uint(max(objects, 0))) + 1) / 2
	return min(max(n, 7), 2*object.IDSize)
}
