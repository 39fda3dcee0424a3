package fsck_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/store"
)

// TestPackIndexCheckedAgainstThePack: fsck proves the pack's index right,
// not only unchanged. Each damage below is given a fresh trailer, as a
// writer's bug or a rewrite would leave it: swapped ordinals passed fsck
// (a helper's audit), while reads of the two objects failed as corrupt.
func TestPackIndexCheckedAgainstThePack(t *testing.T) {
	pristine := repository(t, true)
	matches, err := filepath.Glob(filepath.Join(pristine, "log", "pack-*.pidx"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	orig, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	n := int(binary.LittleEndian.Uint32(orig[8:]))
	f := int(binary.LittleEndian.Uint32(orig[12:]))
	require.Greater(t, n, 10)
	require.Greater(t, f, 1)
	prefixes, ords := 16+1024, 16+1024+8*n
	frames := ords + 4*n
	swap := func(b []byte, i, j, size int) {
		x := append([]byte{}, b[i:i+size]...)
		copy(b[i:i+size], b[j:j+size])
		copy(b[j:j+size], x)
	}
	// The prefixes of the ordinals 0 and 1 (the pack's first two
	// objects), to change the ordinals of rows of other buckets.
	rowOf := func(b []byte, ord uint32) int {
		for i := 0; i < n; i++ {
			if binary.LittleEndian.Uint32(b[ords+4*i:]) == ord {
				return i
			}
		}
		t.Fatalf("no row holds ordinal %d", ord)
		return -1
	}
	// without drops row i (its prefix and ordinal), as a writer that
	// left an object out would have written the file.
	without := func(b []byte, i int) []byte {
		out := append([]byte{}, b[:prefixes+8*i]...)
		out = append(out, b[prefixes+8*(i+1):ords+4*i]...)
		out = append(out, b[ords+4*(i+1):]...)
		binary.LittleEndian.PutUint32(out[8:], uint32(n-1))
		for bucket := int(b[prefixes+8*i]); bucket < 256; bucket++ {
			at := 16 + 4*bucket
			binary.LittleEndian.PutUint32(out[at:], binary.LittleEndian.Uint32(out[at:])-1)
		}
		return out
	}
	frameRows := func(b []byte, rows int) []byte {
		out := append([]byte{}, b[:frames+8*min(rows, f)]...)
		for i := f; i < rows; i++ { // a frame past the pack's end
			out = binary.LittleEndian.AppendUint32(out, 1<<30)
			out = binary.LittleEndian.AppendUint32(out, uint32(n+i))
		}
		binary.LittleEndian.PutUint32(out[12:], uint32(rows))
		return append(out, make([]byte, 32)...)
	}
	for _, c := range []struct {
		name, want string
		damage     func(b []byte) []byte
	}{
		{"two ordinals swapped", "is listed as", func(b []byte) []byte { swap(b, ords, ords+4, 4); return b }},
		{"an ordinal listed twice", "listed twice", func(b []byte) []byte {
			copy(b[ords+4*rowOf(b, 1):], b[ords+4*rowOf(b, 0):ords+4*rowOf(b, 0)+4])
			return b
		}},
		{"an ordinal past the pack", "no object of the pack", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[ords+4*rowOf(b, 0):], uint32(n+5))
			return b
		}},
		{"prefixes out of order", "out of order", func(b []byte) []byte {
			for i := 0; i+1 < n; i++ { // two rows of one bucket
				if b[prefixes+8*i] == b[prefixes+8*(i+1)] {
					swap(b, prefixes+8*i, prefixes+8*(i+1), 8)
					return b
				}
			}
			t.Fatal("no bucket holds two rows")
			return b
		}},
		{"a prefix in another bucket", "outside its fanout bucket", func(b []byte) []byte { swap(b, prefixes, prefixes+8*(n-1), 8); return b }},
		{"a prefix changed within its bucket", "is listed as", func(b []byte) []byte { b[prefixes+8*rowOf(b, 0)+7] ^= 1; return b }},
		{"two frames swapped", "frame 0 is at offset", func(b []byte) []byte { swap(b, frames, frames+8, 8); return b }},
		{"a frame's first ordinal", "first entry", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[frames+8*1+4:], binary.LittleEndian.Uint32(b[frames+8*1+4:])+1)
			return b
		}},
		{"an object left out", "is not listed", func(b []byte) []byte { return without(b, rowOf(b, 3)) }},
		{"a frame too many", "frames, the pack has", func(b []byte) []byte { return frameRows(b, f+1) }},
		{"a frame too few", "is not in its frame table", func(b []byte) []byte { return frameRows(b, f-1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			gitDir := copyRepository(t, pristine)
			b := c.damage(append([]byte{}, orig...))
			sum := blake3.Sum256(b[:len(b)-32])
			copy(b[len(b)-32:], sum[:])
			require.NoError(t, os.WriteFile(filepath.Join(gitDir, "log", filepath.Base(matches[0])), b, 0o644))
			rep := runFsck(t, gitDir)
			require.False(t, rep.OK, "fsck passed a wrong pack index")
			var said []string
			for _, p := range rep.Problems {
				said = append(said, p.String())
			}
			assert.Contains(t, strings.Join(said, "\n"), c.want)
			assert.Contains(t, strings.Join(said, "\n"), ".pidx")
		})
	}
}

// TestDamagedPackFrameBlamesNotTheIndex: a damaged frame of the pack is
// reported as the pack's, and the index, which the damage says nothing
// about, is not judged by it.
func TestDamagedPackFrameBlamesNotTheIndex(t *testing.T) {
	gitDir := copyRepository(t, repository(t, true))
	flipPackFile(t, gitDir, ".pack", 0x40)
	rep := runFsck(t, gitDir)
	require.False(t, rep.OK)
	for _, p := range rep.Problems {
		assert.NotContains(t, p.String(), ".pidx", "the index is not to blame")
	}
}

// TestDamagedRefIndexReportedOnce: a flipped byte in the pack's record
// index is found by the log's check of its trailer and by the records'
// pass, in the same words; the report names it once.
func TestDamagedRefIndexReportedOnce(t *testing.T) {
	gitDir := copyRepository(t, repository(t, true))
	ridx := flipPackFile(t, gitDir, ".ridx", 0xff)
	rep := runFsck(t, gitDir)
	require.False(t, rep.OK)
	seen := map[string]bool{}
	for _, p := range rep.Problems {
		assert.False(t, seen[p.String()], "reported twice: %s", p)
		seen[p.String()] = true
	}
	assert.Contains(t, seen, "index "+filepath.Base(ridx)+": corrupt: index "+ridx+": checksum mismatch")
}

// flipPackFile flips bits of the middle byte of the pack's file with the
// given suffix, and returns its path.
func flipPackFile(t *testing.T, gitDir, suffix string, mask byte) string {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(gitDir, "log", "pack-*"+suffix))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	b, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	b[len(b)/2] ^= mask
	require.NoError(t, os.WriteFile(matches[0], b, 0o644))
	return matches[0]
}

// TestSegmentInAnotherSegmentsPlace: a segment file swapped with
// another is reported for each file, naming the segment its frames are
// from (the store refuses to open such a repository; fsck reads it as
// the command does, skipping what it cannot read).
func TestSegmentInAnotherSegmentsPlace(t *testing.T) {
	gitDir := copyRepository(t, repository(t, false))
	segs, err := filepath.Glob(filepath.Join(gitDir, "log", "*.seg"))
	require.NoError(t, err)
	require.Greater(t, len(segs), 2)
	first, last := segs[0], segs[len(segs)-1]
	tmp := first + ".swap"
	require.NoError(t, os.Rename(first, tmp))
	require.NoError(t, os.Rename(last, first))
	require.NoError(t, os.Rename(tmp, last))
	_, err = store.Open(gitDir, store.Options{})
	require.ErrorIs(t, err, store.ErrCorrupt)
	st, err := store.Open(gitDir, store.Options{Salvage: true})
	require.NoError(t, err)
	defer st.Close()
	rep, err := fsck.Run(context.Background(), st, fsck.Options{})
	require.NoError(t, err)
	require.False(t, rep.OK)
	var said []string
	for _, p := range rep.Problems {
		said = append(said, p.String())
	}
	all := strings.Join(said, "\n")
	assert.Contains(t, all, fmt.Sprintf("segment %s: the file holds the frames of segment %d", filepath.Base(first), len(segs)))
	assert.Contains(t, all, fmt.Sprintf("segment %s: the file holds the frames of segment 1", filepath.Base(last)))
}
