package pack

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/evgit/evgit/object"
)

// IndexCheck checks a pack index against the pack it indexes, whose
// frames are given to it in file order (Frame), then Done: that its
// frame table names each frame at its offset with the ordinal of its
// first entry, that its prefixes are sorted into their fanout buckets,
// and that each ordinal it lists is an object of the pack with that
// prefix, listed once, and each object of the pack is listed (at its own
// place, or, stored twice, at the other). The trailer's checksum proves
// only that nobody changed the file since it was written; this proves
// that what was written is right, which lookups take on trust (a
// helper's audit: swapped ordinals under a good checksum passed fsck,
// while reads of the two objects failed as corrupt).
type IndexCheck struct {
	px     *PackIndex
	listed []listedOrd // the index's ordinals and prefixes, by ordinal
	next   int         // listed entries matched so far
	frames int         // frames seen
	ord    uint32      // the ordinal of the next entry
}

// listedOrd is one row of a pack index: an ordinal and its ID's prefix.
type listedOrd struct {
	ord    uint32
	prefix uint64
}

// NewIndexCheck starts a check of px: it checks the order of the
// prefixes and the fanout, and reads the ordinals.
func NewIndexCheck(px *PackIndex) (*IndexCheck, error) {
	c := &IndexCheck{px: px, listed: make([]listedOrd, px.n)}
	for i := 0; i < px.n; i++ {
		p := px.prefixAt(i)
		if i > 0 && p < px.prefixAt(i-1) {
			return nil, fmt.Errorf("%w: pack index: prefix %d is out of order", ErrCorrupt, i)
		}
		if b := int(p >> 56); i < px.fan(b-1) || i >= px.fan(b) {
			return nil, fmt.Errorf("%w: pack index: prefix %d lies outside its fanout bucket", ErrCorrupt, i)
		}
		c.listed[i] = listedOrd{ord: binary.LittleEndian.Uint32(px.ords[i*4:]), prefix: p}
	}
	slices.SortFunc(c.listed, func(a, b listedOrd) int { return cmp.Compare(a.ord, b.ord) })
	for i := 1; i < len(c.listed); i++ {
		if c.listed[i].ord == c.listed[i-1].ord {
			return nil, fmt.Errorf("%w: pack index: ordinal %d is listed twice", ErrCorrupt, c.listed[i].ord)
		}
	}
	return c, nil
}

// Frame checks the frame at off, whose entries and their IDs
// (ResolveAll) are given.
func (c *IndexCheck) Frame(off int64, entries []Entry, ids []object.ID) error {
	if c.frames >= c.px.f {
		return fmt.Errorf("%w: pack index: the pack's frame at offset %d is not in its frame table", ErrCorrupt, off)
	}
	f := c.px.frames[c.frames*8:]
	if got, first := binary.LittleEndian.Uint32(f), binary.LittleEndian.Uint32(f[4:]); int64(got) != off || first != c.ord {
		return fmt.Errorf("%w: pack index: frame %d is at offset %d, first entry %d; the index says %d, %d", ErrCorrupt, c.frames, off, c.ord, got, first)
	}
	c.frames++
	for i, e := range entries {
		ord := c.ord
		c.ord++
		if !e.IsObject() {
			continue
		}
		id := ids[i]
		if c.next < len(c.listed) && c.listed[c.next].ord < ord {
			return fmt.Errorf("%w: pack index: ordinal %d is no object of the pack", ErrCorrupt, c.listed[c.next].ord)
		}
		if c.next < len(c.listed) && c.listed[c.next].ord == ord {
			if c.listed[c.next].prefix != binary.BigEndian.Uint64(id[:8]) {
				return fmt.Errorf("%w: pack index: ordinal %d is listed as %016x, and the object there is %s", ErrCorrupt, ord, c.listed[c.next].prefix, id)
			}
			c.next++
			continue
		}
		// Not listed at its place: an object stored twice is listed
		// once, at either.
		if len(c.px.Candidates(id)) == 0 {
			return fmt.Errorf("%w: pack index: object %s (ordinal %d) is not listed", ErrCorrupt, id, ord)
		}
	}
	return nil
}

// Done checks what the frames left over: frames the index lists that the
// pack lacks, ordinals past its last entry.
func (c *IndexCheck) Done() error {
	if c.frames != c.px.f {
		return fmt.Errorf("%w: pack index: lists %d frames, the pack has %d", ErrCorrupt, c.px.f, c.frames)
	}
	if c.next < len(c.listed) {
		return fmt.Errorf("%w: pack index: ordinal %d is no object of the pack", ErrCorrupt, c.listed[c.next].ord)
	}
	return nil
}
