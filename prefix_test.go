package evgit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
	"github.com/evgit/evgit/walk"
)

// A short prefix in a large repository matches many objects of every
// kind. A revision's abbreviation must still find the one commit among
// them, however many other objects sort before it, and a listing of
// candidates must name them all. Built by searching for a commit whose ID
// starts with "abcdf" and 70 blobs whose IDs start with "abcd" and sort
// before it (a repository of about five million objects holds that many).
func TestAbbreviationAmongManyObjects(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var commit *object.Commit
	for i := 0; commit == nil; i++ {
		c := &object.Commit{Time: time.Unix(1_700_000_000, 0).UTC(), Actor: "t", Message: fmt.Sprint(i)}
		if strings.HasPrefix(c.ID().String(), "abcdf") {
			commit = c
		}
	}
	var blobs [][]byte
	for i := 0; len(blobs) < 70; i++ {
		b := []byte(fmt.Sprintf(`{"n":%d}`, i))
		if id := object.Hash(object.KindBlob, b).String(); strings.HasPrefix(id, "abcd") && id < "abcdf" {
			blobs = append(blobs, b)
		}
	}
	require.NoError(t, r.st.Update(ctx, func(tx *store.Tx) error {
		for _, b := range blobs {
			tx.PutObject(object.KindBlob, b)
		}
		tx.PutCommit(commit)
		return nil
	}))

	for _, abbrev := range []string{"abcd", "abcdf"} {
		got, err := r.Resolve(ctx, abbrev)
		require.NoError(t, err, abbrev)
		assert.Equal(t, commit.ID(), got, abbrev)
	}
	_, err := r.ReadObject(ctx, "abcd")
	require.ErrorIs(t, err, walk.ErrAmbiguous)
	_, list, _ := strings.Cut(err.Error(), "candidates ")
	cands := strings.Split(list, ", ")
	require.Len(t, cands, 71, "every candidate listed: %v", err)
	assert.Len(t, cands[0], 8, "abbreviated to tell each from its neighbours")
}

// Short IDs grow as Git's core.abbrev "auto" makes them: 7 hex digits,
// one more each time the objects' count gains two bits past 2^14.
func TestAbbrevFor(t *testing.T) {
	for _, c := range []struct{ objects, want int }{
		{-1, 7}, {0, 7}, {1, 7}, {8191, 7}, {16383, 7}, {16384, 8}, {65535, 8}, {65536, 9},
		{100_000, 9}, {2_677_078, 11}, {1 << 62, 32},
	} {
		assert.Equal(t, c.want, abbrevFor(c.objects), "%d objects", c.objects)
	}
}

// ReadObject takes an empty name for HEAD, as Resolve and the library's
// other calls take an empty revision (a helper's audit found it refused).
func TestReadObjectEmptyMeansHEAD(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	res, err := r.Append(ctx, []EventInput{{Stream: "a", Type: "T", Data: []byte(`{"x":1}`)}}, AppendOptions{})
	require.NoError(t, err)
	obj, err := r.ReadObject(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, res.Commit, obj.ID)
	require.NotNil(t, obj.Commit)
}
