package store

import (
	"fmt"
	"path/filepath"

	"github.com/evgit/evgit/pack"
)

// Pack file names: pack-<N>.pack (frames), pack-<N>.ridx (the records it
// kept, in the index format) and pack-<N>.pidx (its objects), where N is
// the newest segment the pack replaces. The .pidx is written last: once it
// is there the pack is live and segments up to N are obsolete.
const (
	packDataSuffix    = ".pack"
	packRecordsSuffix = ".ridx"
	packIndexSuffix   = ".pidx"
)

func packName(n uint32, suffix string) string { return fmt.Sprintf("pack-%08d%s", n, suffix) }

// exists reports whether a file of the log folder can be opened.
func (s *Store) exists(name string) bool {
	f, err := s.fsys.OpenFile(filepath.Join(s.logDir, name), 0, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// openPack opens the newest pack and, holding the lock, removes what it
// made obsolete: older packs and the segments and indexes it replaced.
func (s *Store) openPack(l listing, locked bool) error {
	n := s.packNum
	data, err := pack.OpenSegment(s.fsys, filepath.Join(s.logDir, packName(n, packDataSuffix)), 0, false)
	if err != nil {
		return err
	}
	s.packData = data
	if s.packIdx, err = pack.OpenPackIndex(s.fsys, filepath.Join(s.logDir, packName(n, packIndexSuffix))); err != nil {
		return err
	}
	if s.packRecs, err = pack.OpenIndex(s.fsys, filepath.Join(s.logDir, packName(n, packRecordsSuffix))); err != nil {
		return err
	}
	if !locked {
		return nil
	}
	removed := false
	for _, seg := range l.segs {
		if seg <= n {
			s.removeObsolete(filepath.Join(s.logDir, segName(seg)))
			removed = true
		}
	}
	for _, old := range l.packs {
		if old < n {
			for _, suf := range []string{packIndexSuffix, packRecordsSuffix, packDataSuffix} {
				s.removeObsolete(filepath.Join(s.logDir, packName(old, suf)))
			}
			removed = true
		}
	}
	if removed {
		return s.fsys.SyncDir(s.logDir)
	}
	return nil
}
