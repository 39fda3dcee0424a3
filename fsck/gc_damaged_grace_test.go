package fsck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/fsck"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/store"
)

// A kept snapshot's inner node P is good; its child Y lies alone in a
// damaged segment frame. gc with a grace period dropped the snapshot
// and Y, and kept P for its grace, naming a child gone: fsck then found
// it missing (a helper's review). Within a grace period gc now refuses
// when a snapshot tree is damaged; with --prune=now it drops them all.
func TestGCWithGraceRefusesADamagedSnapshotTree(t *testing.T) {
	ctx := context.Background()
	s, dir := initStore(t, store.Options{})
	var head object.ID
	for range 3 {
		head = commitOn(t, s, head, func(*store.Tx, *object.Commit) {})
	}
	var y, p object.ID
	big := `{"x":"` + strings.Repeat("z", 300) + `"}`
	writeTx(t, s, func(tx *store.Tx) error {
		y = tx.PutTree(&object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "s", Version: 3, State: []byte(big), StateID: object.Hash(object.KindBlob, []byte(big))}}})
		return nil
	})
	mdl := object.Hash(object.KindBlob, []byte("model"))
	writeTx(t, s, func(tx *store.Tx) error {
		var ch [object.TreeFanout]object.ID
		ch[0] = y
		p = tx.PutTree(&object.Tree{Children: ch, Count: 1})
		tx.PutSnapshot(head, mdl, p)
		return nil
	})
	var yloc, ploc pack.Location
	require.NoError(t, s.Objects(func(id object.ID, loc pack.Location) error {
		if id == y {
			yloc = loc
		}
		if id == p {
			ploc = loc
		}
		return nil
	}))
	require.NotEqual(t, yloc.Off, ploc.Off)
	_, err := s.Seal(0)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	seg := filepath.Join(dir, "log", fmt.Sprintf("%08d.seg", yloc.Seg))
	if _, err := os.Stat(seg); err != nil {
		m, _ := filepath.Glob(filepath.Join(dir, "log", "*"))
		t.Fatalf("segment file? %v", m)
	}
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	at := int64(yloc.Off) + pack.FrameHeaderSize + 3
	b[at] ^= 0x5a
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	s, err = store.Open(dir, store.Options{})
	require.NoError(t, err)
	defer s.Close()
	for _, opts := range []store.GCOptions{{Grace: time.Hour}, {PruneNow: true}} {
		st, err := s.GC(ctx, opts)
		if err != nil {
			require.ErrorIs(t, err, store.ErrCorrupt)
			require.False(t, opts.PruneNow, "--prune=now drops the damaged snapshot")
			require.Contains(t, err.Error(), "gc --prune=now drops them")
			continue
		}
		require.True(t, opts.PruneNow, "with grace, gc refuses")
		require.Equal(t, 1, st.SnapshotsDamaged)
		rep, err := fsck.Run(ctx, s, fsck.Options{})
		require.NoError(t, err)
		require.Empty(t, rep.Problems, "gc left nothing naming what it dropped")
	}
}

// A snapshot's root Y that is not stored, and that another kept tree
// names inside it: damage there, so gc with a grace period refuses, in
// either order of the two records (a helper's review of the level-wise
// read, which took Y for a gone root only and went on, keeping P naming
// Y). With --prune=now it drops both snapshots, and fsck is clean.
func TestGCWithGraceRefusesARootGoneThatATreeNames(t *testing.T) {
	ctx := context.Background()
	for _, bOlder := range []bool{false, true} {
		s, _ := initStore(t, store.Options{})
		var c [3]object.ID
		var head object.ID
		for i := range c {
			head = commitOn(t, s, head, func(*store.Tx, *object.Commit) {})
			c[i] = head
		}
		leaf := &object.Tree{Leaf: true, Entries: []object.TreeEntry{{Stream: "s", Version: 1, State: []byte(`{}`), StateID: object.Hash(object.KindBlob, []byte(`{}`))}}}
		y := object.Hash(object.KindTree, leaf.Encode()) // never stored
		mdl := object.Hash(object.KindBlob, []byte("model"))
		writeTx(t, s, func(tx *store.Tx) error {
			var ch [object.TreeFanout]object.ID
			ch[0] = y
			p := tx.PutTree(&object.Tree{Children: ch, Count: 33})
			a, b := c[1], c[2]
			if bOlder {
				a, b = b, a
			}
			tx.PutSnapshot(a, mdl, y)
			tx.PutSnapshot(b, mdl, p)
			return nil
		})
		_, err := s.GC(ctx, store.GCOptions{Grace: time.Hour, RecentSnapshots: 10})
		require.Error(t, err, "b older: %v", bOlder)
		require.ErrorContains(t, err, "gc --prune=now drops them")
		_, err = s.GC(ctx, store.GCOptions{PruneNow: true, RecentSnapshots: 10})
		require.NoError(t, err)
		rep, err := fsck.Run(ctx, s, fsck.Options{})
		require.NoError(t, err)
		require.True(t, rep.OK, "%v", rep.Problems)
	}
}
