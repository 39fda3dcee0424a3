package store

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/evgit/evgit/object"
)

// Link is a skip link, derived data recorded beside a commit that ends a
// stretch of history (every hundredth event): the previous such commit on
// its first-parent line, the previous one of a coarser stretch, and the
// commit's own time and offset. Following links, "the newest commit at or
// before a time" takes a few hundred lookups on a line of millions of
// commits instead of a walk over all of them. Like snapshots, links are
// never part of a commit's hash.
type Link struct {
	Prev   object.ID // the previous linked commit; ZeroID at the start
	Up     object.ID // the previous coarse-linked commit before this one
	Time   time.Time // the commit's time
	Offset uint64    // the commit's offset: events on its first-parent line up to and including it
}

// encode lays a link out: Prev (32), Up (32), varint Unix nanoseconds,
// uvarint offset. Part of the format.
func (l Link) encode() []byte {
	b := make([]byte, 0, 2*object.IDSize+20)
	b = append(b, l.Prev[:]...)
	b = append(b, l.Up[:]...)
	b = binary.AppendVarint(b, l.Time.UnixNano())
	return binary.AppendUvarint(b, l.Offset)
}

func decodeLink(v []byte) (Link, bool, error) {
	l, err := DecodeLink(v)
	return l, err == nil, err
}

// DecodeLink decodes a skip link record's value; an error matching
// ErrCorrupt when it is not one.
func DecodeLink(v []byte) (Link, error) {
	bad := fmt.Errorf("%w: skip link record", ErrCorrupt)
	if len(v) < 2*object.IDSize+2 {
		return Link{}, bad
	}
	l := Link{Prev: object.ID(v[:32]), Up: object.ID(v[32:64])}
	t, n := binary.Varint(v[64:])
	if n <= 0 {
		return Link{}, bad
	}
	off, m := binary.Uvarint(v[64+n:])
	if m <= 0 || 64+n+m != len(v) {
		return Link{}, bad
	}
	l.Time, l.Offset = time.Unix(0, t).UTC(), off
	return l, nil
}

// Link returns a commit's skip link, if it has one.
func (s *Store) Link(commit object.ID) (Link, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.linkLocked(commit)
}

func (s *Store) linkLocked(commit object.ID) (Link, bool, error) {
	v, ok, err := s.latestRecord(RecLink, commit[:])
	if err != nil || !ok {
		return Link{}, false, err
	}
	return decodeLink(v)
}
