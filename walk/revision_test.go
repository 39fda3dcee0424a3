package walk

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// mergeRepo builds
//
//	root(1) ─ a1(2) ─ a2(4) ─ m(6) ─ a3(7)   main, HEAD
//	      └── f1(3) ─ f2(5) ──┘               feature
//
// with tags, reflogs, a branch named like a hex prefix and two commits
// whose IDs share ten hex digits.
func mergeRepo(t testing.TB) *fakeRepo {
	f := newFake()
	f.add("root", 1, nil)
	f.add("a1", 2, []string{"root"})
	f.add("f1", 3, []string{"root"})
	f.add("a2", 4, []string{"a1"})
	f.add("f2", 5, []string{"f1"})
	f.add("m", 6, []string{"a2", "f2"})
	f.add("a3", 7, []string{"m"})
	f.put("amb0", mustID(t, "abcdef01230", '0'), &object.Commit{Time: minute(1), Offset: 1})
	f.put("amb1", mustID(t, "abcdef01231", '1'), &object.Commit{Time: minute(1), Offset: 1})

	f.refs["HEAD"] = f.id("a3")
	f.refs["refs/heads/main"] = f.id("a3")
	f.refs["refs/heads/feature"] = f.id("f2")
	f.refs["refs/tags/v1"] = f.id("a1")
	f.refs["refs/tags/dup"] = f.id("f1")
	f.refs["refs/heads/dup"] = f.id("a2")
	f.refs["refs/heads/"+f.id("root").String()[:8]] = f.id("a1")
	f.refs["refs/heads/"+f.id("f1").String()] = f.id("a1")
	f.refs["refs/heads/"+strings.Repeat("fe", 32)] = f.id("a2")

	f.reflogs["refs/heads/main"] = []ReflogEntry{
		{Old: f.id("m"), New: f.id("a3")},
		{Old: f.id("a2"), New: f.id("m")},
		{Old: f.id("a1"), New: f.id("a2")},
		{New: f.id("a1")},
	}
	f.reflogs["HEAD"] = []ReflogEntry{
		{Old: f.id("f2"), New: f.id("a3")},
		{New: f.id("f2")},
	}
	// A reflog cut short: its oldest entry still knows the value before.
	f.reflogs["refs/heads/feature"] = []ReflogEntry{{Old: f.id("f1"), New: f.id("f2")}}
	// A reflog without its ref, as damage leaves it: never read.
	f.reflogs["refs/heads/gone"] = []ReflogEntry{{Old: f.id("a1"), New: f.id("a2")}, {New: f.id("a1")}}
	// A tag and a branch of one name, each with a reflog: X@{N} reads the
	// branch's, as Git (which keeps none for tags) does.
	f.reflogs["refs/tags/dup"] = []ReflogEntry{{New: f.id("f1")}}
	f.reflogs["refs/heads/dup"] = []ReflogEntry{{Old: f.id("a1"), New: f.id("a2")}, {New: f.id("a1")}}
	return f
}

func TestResolve(t *testing.T) {
	f := mergeRepo(t)
	tests := []struct {
		name    string
		input   string
		want    string // label of the commit
		wantErr error
		wantMsg string // substring of the error
	}{
		{name: "branch", input: "main", want: "a3"},
		{name: "reflog of a ref that is gone", input: "gone@{1}", wantErr: ErrUnknownRevision},
		{name: "reflog of the branch, not the tag", input: "dup@{1}", want: "a1"},
		{name: "the tag wins a plain name", input: "dup", want: "f1"},
		{name: "full branch ref", input: "refs/heads/main", want: "a3"},
		{name: "refs-relative", input: "heads/main", want: "a3"},
		{name: "HEAD", input: "HEAD", want: "a3"},
		{name: "at sign is HEAD", input: "@", want: "a3"},
		{name: "tag", input: "v1", want: "a1"},
		{name: "full tag ref", input: "refs/tags/v1", want: "a1"},
		{name: "tag before branch", input: "dup", want: "f1"},
		{name: "branch through heads/", input: "heads/dup", want: "a2"},
		{name: "full hex", input: f.id("f2").String(), want: "f2"},
		{name: "full hex upper case", input: strings.ToUpper(f.id("f2").String()), want: "f2"},
		{name: "abbreviated hex", input: f.id("f2").Short(), want: "f2"},
		{name: "abbreviated upper case", input: strings.ToUpper(f.id("a2").String()[:9]), want: "a2"},
		{name: "ref wins over abbreviated hex", input: f.id("root").String()[:8], want: "a1"},
		{name: "full ID wins over ref", input: f.id("f1").String(), want: "f1"},
		{name: "full hex of no commit finds the ref", input: strings.Repeat("fe", 32), want: "a2"},
		{name: "hex prefix of one of two", input: "abcdef012311", want: "amb1"},

		{name: "tilde", input: "main~1", want: "m"},
		{name: "tilde default", input: "main~", want: "m"},
		{name: "tilde two", input: "main~2", want: "a2"},
		{name: "tilde to root", input: "main~4", want: "root"},
		{name: "tilde zero", input: "main~0", want: "a3"},
		{name: "caret", input: "main^", want: "m"},
		{name: "caret one", input: "main^1", want: "m"},
		{name: "caret zero", input: "main^0", want: "a3"},
		{name: "peel", input: "v1^{}", want: "a1"},
		{name: "peel then steps", input: "main^{commit}~2", want: "a2"},
		{name: "carets", input: "main^^^", want: "a1"},
		{name: "second parent", input: "main~1^2", want: "f2"},
		{name: "chain", input: "main^^2~1", want: "f1"},
		{name: "chain from hex", input: f.id("m").Short() + "^2~2", want: "root"},
		{name: "HEAD tilde", input: "HEAD~3", want: "a1"},
		{name: "at tilde", input: "@~1", want: "m"},

		{name: "reflog zero", input: "main@{0}", want: "a3"},
		{name: "reflog one", input: "main@{1}", want: "m"},
		{name: "reflog three", input: "main@{3}", want: "a1"},
		{name: "reflog full name", input: "refs/heads/main@{2}", want: "a2"},
		{name: "reflog then steps", input: "main@{1}~1", want: "a2"},
		{name: "HEAD reflog", input: "HEAD@{1}", want: "f2"},
		{name: "bare reflog is HEAD", input: "@{1}", want: "f2"},
		{name: "reflog cut short", input: "feature@{1}", want: "f1"},
		{name: "no reflog zero", input: "v1@{0}", want: "a1"},

		{name: "ambiguous", input: "abcd", wantErr: ErrAmbiguous,
			wantMsg: `ambiguous revision "abcd": candidates abcdef01230, abcdef01231`},
		{name: "ambiguous longer", input: "abcdef0123", wantErr: ErrAmbiguous, wantMsg: "candidates abcdef01230, abcdef01231"},
		{name: "ambiguous with steps", input: "abcd~1", wantErr: ErrAmbiguous},
		{name: "unknown name", input: "nope", wantErr: ErrUnknownRevision, wantMsg: `unknown revision "nope"`},
		{name: "unknown hex", input: "0000000", wantErr: ErrUnknownRevision, wantMsg: `unknown revision "0000000"`},
		{name: "too short for hex", input: f.id("f2").String()[:3], wantErr: ErrUnknownRevision},
		{name: "unknown with steps", input: "nope~1", wantErr: ErrUnknownRevision, wantMsg: `unknown revision "nope~1"`},
		{name: "beyond root", input: "main~5", wantErr: ErrUnknownRevision, wantMsg: `unknown revision "main~5"`},
		{name: "no such parent", input: "main~1^3", wantErr: ErrUnknownRevision, wantMsg: "has 2 parents"},
		{name: "root has no parent", input: "main~4^", wantErr: ErrUnknownRevision},
		{name: "reflog too far", input: "main@{4}", wantErr: ErrUnknownRevision, wantMsg: "has 4 entries"},
		{name: "reflog cut too far", input: "feature@{2}", wantErr: ErrUnknownRevision},
		{name: "no reflog", input: "v1@{1}", wantErr: ErrUnknownRevision, wantMsg: "no reflog for v1"},
		{name: "empty", input: "", wantErr: ErrBadRevision},
		{name: "bad count", input: "main~x", wantErr: ErrBadRevision, wantMsg: `unexpected "x"`},
		{name: "bad reflog", input: "main@{x}", wantErr: ErrBadRevision, wantMsg: "reflog selector"},
		{name: "negative reflog", input: "main@{-1}", wantErr: ErrBadRevision},
		{name: "unclosed reflog", input: "main@{1", wantErr: ErrBadRevision},
		{name: "peel to a tree", input: "main^{tree}", wantErr: ErrBadRevision},
		{name: "only steps", input: "~1", wantErr: ErrBadRevision},
		{name: "count overflow", input: "main~99999999999999999999", wantErr: ErrBadRevision, wantMsg: "out of range"},
		{name: "reflog overflow", input: "main@{99999999999999999999}", wantErr: ErrBadRevision, wantMsg: "99999999999999999999 is out of range"},
		{name: "previous overflow", input: "@{-99999999999999999999}", wantErr: ErrBadRevision, wantMsg: "99999999999999999999 is out of range"},
		{name: "previous zero", input: "@{-0}", wantErr: ErrBadRevision, wantMsg: "N at least 1"},
		{name: "range is not a revision", input: "main..feature", wantErr: ErrBadRevision, wantMsg: "a range, where one commit is wanted"},
		{name: "symmetric range", input: "main...feature", wantErr: ErrBadRevision, wantMsg: "symmetric range"},
		{name: "symmetric range after steps", input: "main~1...feature", wantErr: ErrBadRevision, wantMsg: "symmetric range"},
		{name: "path escape", input: "../../etc/passwd", wantErr: ErrBadRevision},
		{name: "bad ref name", input: "refs/heads/a b", wantErr: ErrBadRevision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Resolve(context.Background(), f, tt.input)
			if tt.wantErr != nil {
				require.Error(t, err)
				assert.ErrorIs(t, err, tt.wantErr)
				// A typo is invalid input, not a commit that is missing.
				assert.Equal(t, tt.wantErr == ErrBadRevision, errors.Is(err, object.ErrInvalid))
				assert.Equal(t, tt.wantErr == ErrUnknownRevision, errors.Is(err, ErrNotFound))
				assert.Contains(t, err.Error(), tt.wantMsg)
				assert.True(t, id.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, f.labels[id])
		})
	}
}

func TestResolvePassesSourceErrors(t *testing.T) {
	f := mergeRepo(t)
	boom := errors.New("disk on fire")
	f.failRef = boom
	_, err := Resolve(context.Background(), f, "main")
	require.ErrorIs(t, err, boom)
	assert.NotErrorIs(t, err, ErrUnknownRevision)

	// A ref to a commit that is missing is damage, not an unknown name.
	f = mergeRepo(t)
	delete(f.commits, f.id("m"))
	_, err = Resolve(context.Background(), f, "main~2")
	require.ErrorIs(t, err, ErrNotFound)
	assert.NotErrorIs(t, err, ErrUnknownRevision)
}

func TestParseRevision(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    revision
		wantErr bool
	}{
		{name: "name", input: "main", want: revision{name: "main", reflog: -1}},
		{name: "steps", input: "main~2^2~", want: revision{name: "main", reflog: -1,
			steps: []step{{'~', 2}, {'^', 2}, {'~', 1}}}},
		{name: "reflog", input: "main@{3}^", want: revision{name: "main", reflog: 3, steps: []step{{'^', 1}}}},
		{name: "bare reflog", input: "@{0}", want: revision{name: "HEAD", reflog: 0, current: true}},
		{name: "at", input: "@^0", want: revision{name: "HEAD", reflog: -1, steps: []step{{'^', 0}}}},
		{name: "at inside name", input: "a@b", want: revision{name: "a@b", reflog: -1}},
		{name: "empty", input: "", wantErr: true},
		{name: "no name", input: "^1", wantErr: true},
		{name: "empty reflog", input: "main@{}", wantErr: true},
		{name: "junk after reflog", input: "main@{1}x", wantErr: true},
		{name: "plus count", input: "main~+1", wantErr: true},
		{name: "peel", input: "main^{}~1", want: revision{name: "main", reflog: -1, steps: []step{{'^', 0}, {'~', 1}}}},
		{name: "peel to commit", input: "v1^{commit}", want: revision{name: "v1", reflog: -1, steps: []step{{'^', 0}}}},
		{name: "peel to a tree", input: "main^{tree}", wantErr: true},
		{name: "peel unclosed", input: "main^{", wantErr: true},
		{name: "brace after tilde", input: "main~{}", wantErr: true},
		{name: "previous", input: "@{-2}~1", want: revision{name: "HEAD", reflog: -1, before: 2, steps: []step{{'~', 1}}}},
		{name: "previous zero", input: "@{-0}", wantErr: true},
		{name: "previous of a name", input: "main@{-1}", wantErr: true},
		{name: "previous not a count", input: "@{-x}", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRevision(tt.input)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// @{-N} is what HEAD was on before the N-th last checkout, read from
// HEAD's reflog as Git reads it: a branch that still exists by its name
// (its tip now), anything else by the commit HEAD was at.
func TestPreviousCheckout(t *testing.T) {
	ctx := context.Background()
	f := mergeRepo(t)
	// A branch named like the detached commit's short ID (as reflogs
	// before session 20 wrote it) is not where HEAD was.
	f.refs["refs/heads/"+f.id("a1").Short()] = f.id("a3")
	f.reflogs["HEAD"] = []ReflogEntry{
		{Old: f.id("a1"), New: f.id("a3"), Message: "checkout: moving from " + f.id("a1").Short() + " to main"},
		{Old: f.id("f2"), New: f.id("a1"), Message: "checkout: moving from feature to " + f.id("a1").String()},
		{Old: f.id("a2"), New: f.id("f2"), Message: "commit: on feature"},
		{Old: f.id("root"), New: f.id("a2"), Message: "checkout: moving from gone to feature"},
		{Old: f.id("a3"), New: f.id("root"), Message: "checkout: moving from main to gone"},
	}
	for rev, want := range map[string]string{
		"@{-1}":   "a1", // a detached commit: the one HEAD was at
		"@{-2}":   "f2", // feature, now
		"@{-2}~1": "f1", // and steps after it
		"@{-4}":   "a3", // main, now
	} {
		id, err := Resolve(ctx, f, rev)
		require.NoError(t, err, rev)
		assert.Equal(t, f.id(want), id, rev)
	}
	branch, _, err := PreviousCheckout(ctx, f, 2)
	require.NoError(t, err)
	assert.Equal(t, "refs/heads/feature", branch)
	branch, id, err := PreviousCheckout(ctx, f, 1)
	require.NoError(t, err)
	assert.Equal(t, "", branch)
	assert.Equal(t, f.id("a1"), id)
	// As in Git, a branch since deleted names nothing.
	_, err = Resolve(ctx, f, "@{-3}")
	assert.ErrorIs(t, err, ErrUnknownRevision)
	assert.ErrorContains(t, err, "the branch gone HEAD was on is gone")
	_, err = Resolve(ctx, f, "@{-5}")
	assert.ErrorIs(t, err, ErrUnknownRevision)
	assert.ErrorContains(t, err, "HEAD's reflog holds 4 checkouts")
	n, ok := PreviousSelector("@{-3}")
	assert.True(t, ok)
	assert.Equal(t, 3, n)
	for _, rev := range []string{"@{-3}~1", "HEAD", "@{3}"} {
		_, ok := PreviousSelector(rev)
		assert.False(t, ok, rev)
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantFrom  string
		wantTo    string
		wantRange bool
	}{
		{name: "range", input: "main..feature", wantFrom: "main", wantTo: "feature", wantRange: true},
		{name: "open end", input: "v1..", wantFrom: "v1", wantTo: "HEAD", wantRange: true},
		{name: "open start", input: "..feature", wantFrom: "HEAD", wantTo: "feature", wantRange: true},
		{name: "both open", input: "..", wantFrom: "HEAD", wantTo: "HEAD", wantRange: true},
		{name: "with steps", input: "main~3..main@{1}", wantFrom: "main~3", wantTo: "main@{1}", wantRange: true},
		{name: "single", input: "main~1", wantTo: "main~1"},
		{name: "symmetric difference is not a range", input: "a...b", wantTo: "a...b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, ok := ParseRange(tt.input)
			assert.Equal(t, tt.wantRange, ok)
			assert.Equal(t, tt.wantFrom, from)
			assert.Equal(t, tt.wantTo, to)
		})
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		name    string
		input   string
		want    time.Time
		wantErr bool
	}{
		{name: "RFC 3339", input: "2026-11-24T15:00:00Z", want: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)},
		{name: "offset", input: "2026-11-24T16:00:00+01:00", want: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)},
		{name: "fraction", input: "2026-11-24T15:00:00.5Z", want: time.Date(2026, 11, 24, 15, 0, 0, 5e8, time.UTC)},
		{name: "date", input: "2026-11-24", want: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{name: "no zone", input: "2026-11-24T15:00:00", wantErr: true},
		{name: "bad date", input: "2026-13-01", wantErr: true},
		{name: "words", input: "yesterday", wantErr: true},
		{name: "empty", input: "", wantErr: true},
		// Go's parser takes these; RFC 3339 does not.
		{name: "comma fraction", input: "2026-11-24T15:00:00,5Z", wantErr: true},
		{name: "offset minute 60", input: "2026-11-24T15:00:00+05:60", wantErr: true},
		{name: "offset minute 99", input: "2026-11-24T15:00:00-01:99", wantErr: true},
		{name: "offset 24 hours", input: "2026-11-24T15:00:00+24:00", wantErr: true},
		{name: "leap second", input: "2016-12-31T23:59:60Z", wantErr: true},
		{name: "one-digit hour", input: "2026-11-24T5:00:00Z", wantErr: true},
		{name: "empty fraction", input: "2026-11-24T15:00:00.Z", wantErr: true},
		{name: "offset without colon", input: "2026-11-24T15:00:00+0530", wantErr: true},
		{name: "space for T", input: "2026-11-24 15:00:00Z", wantErr: true},
		{name: "long fraction", input: "2026-11-24T15:00:00.1234567891Z", want: time.Date(2026, 11, 24, 15, 0, 0, 123456789, time.UTC)},
		{name: "second 60 of a bad date", input: "2026-02-30T00:00:60Z", wantErr: true},
		{name: "offset minute 59", input: "2026-11-24T15:00:00+05:59", want: time.Date(2026, 11, 24, 9, 1, 0, 0, time.UTC)},
		{name: "lower case", input: "2026-11-24t15:00:00.25z", want: time.Date(2026, 11, 24, 15, 0, 0, 25e7, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.input)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalidTime)
				assert.Contains(t, err.Error(), `invalid time "`+tt.input+`"`)
				assert.Equal(t, tt.name == "leap second", strings.Contains(err.Error(), "leap second"), err.Error())
				assert.Equal(t, strings.HasPrefix(tt.name, "offset minute"), strings.Contains(err.Error(), "offset's minutes"), err.Error())
				return
			}
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v", got)
			assert.Equal(t, time.UTC, got.Location())
		})
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{
		"main", "HEAD", "@", "@{1}", "main~2^2~1", "main@{0}", "refs/heads/x^0", "abcd1234",
		"", "~", "^", "main~", "main^^", "main@{", "main@{}", "main@{-1}", "main@{1}x", "x^{}",
		"main~99999999999999999999", "a..b", "a@{1}@{2}", "\x00", "main~1\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRevision(s)
		if err != nil {
			return
		}
		if r.name == "" || r.reflog < -1 {
			t.Fatalf("%q parsed to %+v", s, r)
		}
		// The canonical spelling parses to the same revision.
		again, err := parseRevision(r.String())
		if err != nil {
			t.Fatalf("%q → %q: %v", s, r.String(), err)
		}
		if !reflect.DeepEqual(r, again) {
			t.Fatalf("%q → %+v, %q → %+v", s, r, r.String(), again)
		}
	})
}

func FuzzResolve(f *testing.F) {
	repo := mergeRepo(f)
	for _, s := range []string{
		"main", "HEAD~2", "main~1^2~1", "main@{2}", "@{1}", "v1", "abcd", "abcdef012311",
		repo.id("f1").Short(), repo.id("m").String() + "^2", "", "main~5", "main@{9}", "x@{0}~3",
		"main^999", "../x", "refs/heads/.x", "dup^0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Resolve(context.Background(), repo, s)
		if err != nil {
			if !errors.Is(err, ErrUnknownRevision) && !errors.Is(err, ErrAmbiguous) && !errors.Is(err, ErrBadRevision) {
				t.Fatalf("%q: unexpected error %v", s, err)
			}
			return
		}
		if _, ok := repo.commits[id]; !ok {
			t.Fatalf("%q resolved to %s, not a commit", s, id)
		}
	})
}

// A time of RFC 3339's shape with a field out of range names the field.
func TestParseTimeNamesTheFieldOutOfRange(t *testing.T) {
	for in, why := range map[string]string{
		"2026-13-01T00:00:00Z":      "month out of range",
		"2026-02-30T00:00:00Z":      "day out of range",
		"2026-01-01T24:00:00Z":      "hour out of range",
		"2026-01-01T00:00:00+24:00": "offset out of range",
		"2016-12-31T23:59:60Z":      "a leap second (second 60) is not taken",
		"2026-02-30T00:00:60Z":      "day out of range",
		"2026-01-01T00:00:00+05:60": "an offset's minutes go to 59",
		"2026-01-01 00:00:00Z":      "want RFC 3339 (2006-01-02T15:04:05Z) or YYYY-MM-DD",
	} {
		_, err := ParseTime(in)
		require.ErrorIs(t, err, ErrInvalidTime, in)
		assert.Equal(t, `invalid time "`+in+`": `+why, err.Error())
	}
}
