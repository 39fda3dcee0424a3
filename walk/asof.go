package walk

import (
	"context"
	"time"

	"github.com/evgit/evgit/object"
)

// AsOf returns the newest commit on tip's first-parent line whose time is
// at or before t (SPEC §3, --as-of). Commit times never decrease along a
// first-parent line, so walking back from tip the first commit at or
// before t is the answer and the walk stops there. When even the root is
// newer than t, the error matches ErrUnknownRevision.
//
// The walk costs one commit load per commit newer than t. A per-branch
// index of (time, commit) could later turn it into a binary search; the
// answer would be the same, since the times along the line are sorted.
func AsOf(ctx context.Context, src Source, tip object.ID, t time.Time) (object.ID, error) {
	id := tip
	for {
		if err := ctx.Err(); err != nil {
			return object.ZeroID, err
		}
		c, err := commit(ctx, src, id)
		if err != nil {
			return object.ZeroID, err
		}
		if !c.Time.After(t) {
			return id, nil
		}
		if len(c.Parents) == 0 {
			return object.ZeroID, &wrapError{
				msg: "no commit at or before " + t.UTC().Format(time.RFC3339Nano),
				err: ErrUnknownRevision,
			}
		}
		id = c.Parents[0]
	}
}
