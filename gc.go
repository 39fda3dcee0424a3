package evgit

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/evgit/evgit/store"
)

// DefaultGrace is how long gc keeps unreachable objects: two weeks, as Git.
const DefaultGrace = 14 * 24 * time.Hour

// GCOptions configure GC.
type GCOptions struct {
	// Prune is how old an unreachable object must be to be dropped:
	// "now", "never" (none is), a Go duration ("36h"), or days or weeks
	// ("3d", "2w"); empty means DefaultGrace.
	Prune string
}

// GCStats say what GC did; its JSON is `evgit gc --json`.
type GCStats struct {
	// BytesBefore is the size in bytes of the log folder's segments,
	// indexes and pack files before gc, the newest segment's to the end
	// of its last frame (the zeros preallocated past it hold nothing).
	BytesBefore int64 `json:"bytes_before"`
	// BytesAfter is the size in bytes of the same files after gc.
	BytesAfter int64 `json:"bytes_after"`
	// Objects is the number of objects in the new pack: the reachable
	// ones and the unreachable ones still in the grace period.
	Objects int `json:"objects"`
	// Dropped is the number of unreachable objects dropped.
	Dropped int `json:"dropped"`
	// SnapshotsKept is the number of snapshot records kept.
	SnapshotsKept int `json:"snapshots_kept"`
	// SnapshotsDropped is the number of snapshot records dropped: thinned
	// out, of a commit no longer reachable, or whose tree is gone or
	// damaged.
	SnapshotsDropped int `json:"snapshots_dropped"`
	// SnapshotsDamaged counts the snapshots among those dropped whose
	// tree could not be read whole (a damaged frame): snapshots are
	// derived data, so gc drops them and goes on, and states are
	// rebuilt from the events.
	SnapshotsDamaged int `json:"snapshots_damaged"`
	// DamagedFrames counts the frames of the pack gc passed over as
	// damaged, dropping what they held: only with Prune "now", and only
	// once everything reachable was read whole, so they held only objects
	// nothing reaches and snapshot trees. Within a grace period gc refuses
	// instead (ErrCorrupt), naming the frame.
	DamagedFrames int `json:"damaged_frames"`
	// ReflogExpired counts the entries of HEAD's reflog dropped: older
	// than 30 days, and naming a commit nothing else reaches.
	ReflogExpired int `json:"reflog_expired"`
}

// GC repacks reachable objects (from any ref or reflog entry) into one
// compressed pack, drops unreachable objects older than the grace period
// and thins old snapshots. A crash at any moment of gc loses nothing.
// With an error, the stats say what was done before it.
func (r *Repository) GC(ctx context.Context, opts GCOptions) (GCStats, error) {
	so := store.GCOptions{}
	switch p := strings.TrimSpace(opts.Prune); p {
	case "":
		so.Grace = DefaultGrace
	case "now":
		so.PruneNow = true
	case "never":
		// As in Git: keep every unreachable object (the longest grace
		// there is, about 292 years), and still repack.
		so.Grace = time.Duration(math.MaxInt64)
	default:
		d, why := parseGrace(p)
		if why == wantPeriod {
			why = "want now, never, a duration like 36h, or 3d, 2w"
		}
		if why != "" {
			return GCStats{}, invalidf("invalid --prune value %q: %s", p, why)
		}
		so.Grace = d
	}
	st, err := r.st.GC(ctx, so)
	return GCStats{
		BytesBefore: st.BytesBefore, BytesAfter: st.BytesAfter, Objects: st.Objects,
		Dropped: st.Dropped, SnapshotsKept: st.SnapshotsKept, SnapshotsDropped: st.SnapshotsDropped,
		SnapshotsDamaged: st.SnapshotsDamaged, DamagedFrames: st.DamagedFrames,
		ReflogExpired: st.ReflogExpired,
	}, err
}

// durationSyntax is what time.ParseDuration reads, without a sign.
var durationSyntax = regexp.MustCompile(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`)

// ParseGrace reads a grace period: a Go duration, or a whole number of
// days ("3d") or weeks ("2w"). The words GCOptions.Prune also takes,
// "now" and "never", are not periods: GC reads them itself.
func ParseGrace(s string) (time.Duration, error) {
	d, why := parseGrace(s)
	if why != "" {
		return 0, invalidf("invalid grace period %q: %s", s, why)
	}
	return d, nil
}

// wantPeriod is why parseGrace refuses what is no period at all.
const wantPeriod = "want a duration like 36h, or 3d, 2w"

// parseGrace reads a grace period, or says why s is none.
func parseGrace(s string) (d time.Duration, why string) {
	const tooLong = "longer than a duration can hold (about 292 years)"
	d, err := time.ParseDuration(s)
	switch {
	case err == nil && d >= 0:
		return d, ""
	case err != nil && durationSyntax.MatchString(s):
		// A duration as Go writes them, and still refused: too long
		// (Go's message says only "invalid duration"; a helper's audit).
		return 0, tooLong
	}
	if len(s) > 1 {
		n, err := strconv.Atoi(s[:len(s)-1])
		unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
		switch {
		case err != nil || n < 0 || unit == 0:
		case int64(n) > math.MaxInt64/int64(unit):
			// A time.Duration holds about 292 years; beyond, the product
			// would wrap negative and prune everything.
			return 0, tooLong
		default:
			return time.Duration(n) * unit, ""
		}
	}
	return 0, wantPeriod
}
