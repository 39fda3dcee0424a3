package store

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// A format 2 repository writes the events and commits it builds packed; a
// format 1 repository, made by an earlier evgit, is written whole, as that
// evgit reads it. Both read back every object, in the process and after
// opening again (which scans the unindexed segment).
func TestFormatDecidesPackedEntries(t *testing.T) {
	for _, format := range []string{formatLine, formatLine1} {
		t.Run(format[:len(format)-1], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".evgit")
			_, err := Init(nil, dir, "main")
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "format"), []byte(format), 0o644))
			s, err := Open(dir, Options{})
			require.NoError(t, err)
			var ids []object.ID
			var head object.ID
			err = s.Update(context.Background(), func(tx *Tx) error {
				for i := range 5 {
					ev := object.NewEvent(fmt.Sprintf("s-%d", i), "T", 1, nil, []byte(fmt.Sprintf(`{"i":%d}`, i)))
					body := ev.Encode()
					eid := tx.PutEventHashed(object.Hash(object.KindEvent, body), body, ev.Data)
					c := &object.Commit{Events: []object.ID{eid}, Time: time.Unix(int64(i), 0), Offset: uint64(i + 1)}
					if !head.IsZero() {
						c.Parents = []object.ID{head}
					}
					head = tx.PutCommit(c)
					ids = append(ids, eid, head)
				}
				return tx.UpdateRef(refs.Update{Name: "refs/heads/main", New: head, Time: time.Unix(5, 0), Message: "commit"})
			})
			require.NoError(t, err)
			kinds := map[uint8]int{}
			seg, err := pack.OpenSegment(pack.OS, filepath.Join(dir, "log", segName(1)), 1, false)
			require.NoError(t, err)
			_, err = seg.Scan(0, true, func(_ int64, payload []byte) error {
				entries, err := pack.ParseEntries(payload)
				require.NoError(t, err)
				for _, e := range entries {
					kinds[e.Kind]++
				}
				return nil
			})
			require.NoError(t, err)
			seg.Close()
			if format == formatLine {
				assert.Equal(t, 5, kinds[pack.EntryPackedEvent])
				assert.Equal(t, 5, kinds[pack.EntryPackedCommit])
				assert.Zero(t, kinds[pack.EntryEvent]+kinds[pack.EntryCommit])
			} else {
				assert.Equal(t, 5, kinds[pack.EntryEvent])
				assert.Equal(t, 5, kinds[pack.EntryCommit])
				assert.Zero(t, kinds[pack.EntryPackedEvent]+kinds[pack.EntryPackedCommit])
			}
			check := func(s *Store) {
				for _, id := range ids {
					_, _, _, err := s.Get(id)
					require.NoError(t, err, id.Short())
				}
			}
			check(s)
			require.NoError(t, s.Close())
			s, err = Open(dir, Options{})
			require.NoError(t, err)
			defer s.Close()
			check(s)
			assert.Empty(t, verifyLog(t, s))
		})
	}
}

// A format this evgit does not know is refused, naming both it reads.
func TestUnknownFormatIsRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".evgit")
	_, err := Init(nil, dir, "main")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "format"), []byte("evgit 3\n"), 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `has format "evgit 3\n" (its file `+filepath.Join(dir, "format")+`); this evgit reads "evgit 1\n" and "evgit 2\n"`)

	// The bytes as they are: a lost newline is visible.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "format"), []byte("evgit 2"), 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), `has format "evgit 2" (its file`)

	// A file of other bytes (a segment's, copied over it) is shown cut
	// short, not whole on one line of kilobytes.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "format"), bytes.Repeat([]byte("EVGSEG\x00\x01"), 300), 0o644))
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, ErrCorrupt)
	assert.Less(t, len(err.Error()), 300)
	assert.Contains(t, err.Error(), `..." (its file`)
}
