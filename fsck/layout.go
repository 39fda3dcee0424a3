package fsck

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// layout is what the log folder holds, as the store would open it.
type layout struct {
	segs    []uint32 // live segments, ascending
	idxs    []string // live segment indexes
	packNum uint32   // the live pack replaces segments up to this; 0: none
}

func (l layout) packFile(suffix string) string { return fmt.Sprintf("pack-%08d%s", l.packNum, suffix) }

// fileOf names the file an object location lies in.
func (l layout) fileOf(seg uint32) string {
	if seg == 0 {
		return l.packFile(".pack")
	}
	return segName(seg)
}

// readLayout lists the log folder: the newest pack whose three files are
// there, the segments after it and the indexes of those.
func (c *checker) readLayout() error {
	files, err := c.st.Files()
	if err != nil {
		return err
	}
	have := map[string]bool{}
	var l layout
	for _, f := range files {
		have[f.Name] = true
	}
	for _, f := range files {
		name := f.Name
		switch {
		case strings.HasSuffix(name, ".seg"):
			if n, err := strconv.ParseUint(strings.TrimSuffix(name, ".seg"), 10, 32); err == nil {
				l.segs = append(l.segs, uint32(n))
			}
		case strings.HasSuffix(name, ".idx"):
			l.idxs = append(l.idxs, name)
		case strings.HasPrefix(name, "pack-") && strings.HasSuffix(name, ".pidx"):
			n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "pack-"), ".pidx"), 10, 32)
			if err != nil {
				continue
			}
			p := layout{packNum: uint32(n)}
			if have[p.packFile(".pack")] && have[p.packFile(".ridx")] {
				l.packNum = max(l.packNum, uint32(n))
			}
		}
	}
	l.segs = slices.DeleteFunc(l.segs, func(n uint32) bool { return n <= l.packNum })
	slices.Sort(l.segs)
	slices.Sort(l.idxs)
	c.layout = l
	return nil
}

func segName(n uint32) string { return fmt.Sprintf("%08d.seg", n) }
