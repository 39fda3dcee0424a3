package walk

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

// collect runs Log and returns the labels of the yielded commits.
func collect(t *testing.T, f *fakeRepo, opts LogOptions) []string {
	t.Helper()
	var out []string
	for e, err := range Log(context.Background(), f, opts) {
		require.NoError(t, err)
		require.Equal(t, e.ID, e.Commit.ID(), "entry ID and commit disagree")
		out = append(out, f.labels[e.ID])
	}
	return out
}

func TestLog(t *testing.T) {
	lin := newFake()
	lin.linear(10)
	mr := mergeRepo(t)
	tests := []struct {
		name string
		repo *fakeRepo
		opts func(f *fakeRepo) LogOptions
		want []string
	}{
		{name: "linear", repo: lin,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("c4")}} },
			want: []string{"c4", "c3", "c2", "c1"}},
		{name: "range", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c10")}, Exclude: []object.ID{f.id("c7")}}
			},
			want: []string{"c10", "c9", "c8"}},
		{name: "empty range", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c3")}, Exclude: []object.ID{f.id("c7")}}
			},
			want: nil},
		{name: "include equals exclude", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c7")}, Exclude: []object.ID{f.id("c7")}}
			},
			want: nil},
		{name: "since and until inclusive", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c10")}, Since: minute(4), Until: minute(7)}
			},
			want: []string{"c7", "c6", "c5", "c4"}},
		{name: "max", repo: lin,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("c10")}, Max: 3} },
			want: []string{"c10", "c9", "c8"}},
		{name: "max then reverse", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c10")}, Max: 3, Reverse: true}
			},
			want: []string{"c8", "c9", "c10"}},
		{name: "reverse range", repo: lin,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("c5")}, Exclude: []object.ID{f.id("c2")}, Reverse: true}
			},
			want: []string{"c3", "c4", "c5"}},
		{name: "stream filter", repo: lin,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("c10")}, Stream: "s/c4"} },
			want: []string{"c4"}},
		{name: "stream filter with max and reverse", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, Type: "Note", Max: 2, Reverse: true}
			},
			want: []string{"m", "a3"}},

		{name: "merge newest first", repo: mr,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("a3")}} },
			want: []string{"a3", "m", "f2", "a2", "f1", "a1", "root"}},
		{name: "first parent", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, FirstParent: true}
			},
			want: []string{"a3", "m", "a2", "a1", "root"}},
		{name: "two tips, each commit once", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a2"), f.id("f2"), f.id("a2")}}
			},
			want: []string{"f2", "a2", "f1", "a1", "root"}},
		{name: "feature..main drops the merged side", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, Exclude: []object.ID{f.id("f2")}}
			},
			want: []string{"a3", "m", "a2", "a1"}},
		{name: "main..feature after the merge is empty", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("f2")}, Exclude: []object.ID{f.id("a3")}}
			},
			want: nil},
		{name: "a2..f2", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("f2")}, Exclude: []object.ID{f.id("a2")}}
			},
			want: []string{"f2", "f1"}},
		{name: "excluded side reaches an included commit queued first", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3"), f.id("f1")}, Exclude: []object.ID{f.id("f2")}}
			},
			want: []string{"a3", "m", "a2", "a1"}},
		{name: "until on a merge", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, Until: minute(4), Since: minute(2)}
			},
			want: []string{"a2", "f1", "a1"}},
		{name: "no include", repo: mr,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{} },
			want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, collect(t, tt.repo, tt.opts(tt.repo)))
		})
	}
}

func TestLogStreamAndTypeFilters(t *testing.T) {
	f := newFake()
	ev := func(stream, typ string) *object.Event {
		return object.NewEvent(stream, typ, 1, nil, []byte(`{"n":1}`))
	}
	f.add("open", 1, nil, ev("acc-1", "AccountOpened"), ev("acc-2", "AccountOpened"))
	f.add("dep1", 2, []string{"open"}, ev("acc-1", "MoneyDeposited"))
	f.add("dep2", 3, []string{"dep1"}, ev("acc-2", "MoneyDeposited"), ev("acc-2", "MoneyWithdrawn"))
	f.add("wd1", 4, []string{"dep2"}, ev("acc-1", "MoneyWithdrawn"))
	tip := f.id("wd1")

	tests := []struct {
		name         string
		stream, typ  string
		want         []string
		wantEventsOf map[string]int // label → events loaded
	}{
		{name: "stream", stream: "acc-2", want: []string{"dep2", "open"}, wantEventsOf: map[string]int{"dep2": 2, "open": 2}},
		{name: "type", typ: "MoneyWithdrawn", want: []string{"wd1", "dep2"}},
		{name: "stream and type on the same event", stream: "acc-1", typ: "MoneyWithdrawn", want: []string{"wd1"}},
		{name: "stream and type on different events", stream: "acc-1", typ: "AccountOpened", want: []string{"open"}},
		{name: "no match", stream: "acc-3", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for e, err := range Log(context.Background(), f, LogOptions{Include: []object.ID{tip}, Stream: tt.stream, Type: tt.typ}) {
				require.NoError(t, err)
				got = append(got, f.labels[e.ID])
				require.Len(t, e.Events, len(e.Commit.Events), "all of the commit's events are loaded")
				for i, id := range e.Commit.Events {
					assert.Equal(t, id, e.Events[i].ID())
				}
				if n, ok := tt.wantEventsOf[f.labels[e.ID]]; ok {
					assert.Len(t, e.Events, n)
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}

	for e, err := range Log(context.Background(), f, LogOptions{Include: []object.ID{tip}}) {
		require.NoError(t, err)
		assert.Nil(t, e.Events, "events are loaded only for a filter")
	}
}

func TestLogOrderTies(t *testing.T) {
	// Equal times along a first-parent line: the offset keeps children
	// before parents. Between branches the ID decides.
	f := newFake()
	f.add("r", 5, nil)
	f.add("x1", 5, []string{"r"})
	f.add("x2", 5, []string{"x1"})
	f.add("y1", 5, []string{"r"})
	f.add("y2", 5, []string{"y1"})
	f.add("y3", 5, []string{"y2"})
	got := collect(t, f, LogOptions{Include: []object.ID{f.id("x2"), f.id("y3")}})
	assert.Equal(t, []string{"y3"}, got[:1], "highest offset first")
	pos := map[string]int{}
	for i, l := range got {
		pos[l] = i
	}
	require.Len(t, pos, 6)
	for _, edge := range [][2]string{{"x2", "x1"}, {"x1", "r"}, {"y3", "y2"}, {"y2", "y1"}, {"y1", "r"}} {
		assert.Less(t, pos[edge[0]], pos[edge[1]], "%s before %s", edge[0], edge[1])
	}
	// x2 and y2 have the same time and offset: the lower ID goes first.
	x2, y2 := f.id("x2"), f.id("y2")
	wantFirst := "x2"
	if string(y2[:]) < string(x2[:]) {
		wantFirst = "y2"
	}
	assert.Equal(t, wantFirst, got[1])
	assert.Equal(t, got, collect(t, f, LogOptions{Include: []object.ID{f.id("y3"), f.id("x2")}}), "order does not depend on the tips' order")
}

func TestLogLoadsOnlyWhatItNeeds(t *testing.T) {
	f := newFake()
	f.linear(1000)

	f.commitLoads = 0
	got := collect(t, f, LogOptions{Include: []object.ID{f.id("c1000")}, Exclude: []object.ID{f.id("c995")}})
	assert.Equal(t, []string{"c1000", "c999", "c998", "c997", "c996"}, got)
	assert.Equal(t, 6, f.commitLoads, "the excluded history is not walked")

	f.commitLoads = 0
	got = collect(t, f, LogOptions{Include: []object.ID{f.id("c1000")}, Since: minute(998)})
	assert.Equal(t, []string{"c1000", "c999", "c998"}, got)
	assert.Equal(t, 4, f.commitLoads, "the walk stops at the first commit older than since")

	f.commitLoads = 0
	for range Log(context.Background(), f, LogOptions{Include: []object.ID{f.id("c1000")}}) {
		break
	}
	assert.LessOrEqual(t, f.commitLoads, 2, "stopping the loop stops the walk")

	f.commitLoads = 0
	collect(t, f, LogOptions{Include: []object.ID{f.id("c1000")}, Until: minute(10)})
	assert.Equal(t, 1000, f.commitLoads, "each commit is loaded once")
}

func TestLogSkipped(t *testing.T) {
	f := mergeRepo(t)
	type call struct {
		label   string
		parents []string
	}
	var calls []call
	opts := LogOptions{
		Include: []object.ID{f.id("a3")},
		Exclude: []object.ID{f.id("f1")},
		Stream:  "s/m",
		Skipped: func(id object.ID, parents []object.ID) {
			calls = append(calls, call{f.labels[id], f.labelsOf(parents...)})
		},
	}
	assert.Equal(t, []string{"m"}, collect(t, f, opts))
	assert.Equal(t, []call{
		{"a3", []string{"m"}},
		{"f2", []string{"f1"}},
		{"a2", []string{"a1"}},
		{"f1", []string{}}, // excluded
		{"a1", []string{"root"}},
		// root, excluded by way of f1, is never popped: nothing wanted
		// is left in the queue.
	}, calls)
}

func TestLogErrors(t *testing.T) {
	f := newFake()
	f.linear(5)
	delete(f.commits, f.id("c3"))
	var got []string
	var gotErr error
	for e, err := range Log(context.Background(), f, LogOptions{Include: []object.ID{f.id("c5")}}) {
		if err != nil {
			gotErr = err
			continue
		}
		got = append(got, f.labels[e.ID])
	}
	assert.ErrorIs(t, gotErr, ErrNotFound)
	assert.Equal(t, []string{"c5", "c4"}, got, "commits before the damage stream out")

	// A reversed log with an error yields only the error.
	got, gotErr = nil, nil
	for e, err := range Log(context.Background(), f, LogOptions{Include: []object.ID{f.id("c5")}, Reverse: true}) {
		if err != nil {
			gotErr = err
			continue
		}
		got = append(got, f.labels[e.ID])
	}
	assert.ErrorIs(t, gotErr, ErrNotFound)
	assert.Empty(t, got)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f = newFake()
	f.linear(5)
	for _, err := range Log(ctx, f, LogOptions{Include: []object.ID{f.id("c5")}}) {
		gotErr = err
	}
	assert.ErrorIs(t, gotErr, context.Canceled)
}

func TestAsOf(t *testing.T) {
	f := newFake()
	f.linear(5) // c1..c5 at minutes 1..5
	f.add("same", 5, []string{"c5"})
	mr := mergeRepo(t) // a3(7) m(6) a2(4) a1(2) root(1); f2(5) on the second parent
	tests := []struct {
		name    string
		repo    *fakeRepo
		tip     string
		at      time.Time
		want    string
		wantErr string
	}{
		{name: "after the tip", repo: f, tip: "c5", at: minute(60), want: "c5"},
		{name: "exact time", repo: f, tip: "c5", at: minute(3), want: "c3"},
		{name: "between commits", repo: f, tip: "c5", at: minute(3).Add(30 * time.Second), want: "c3"},
		{name: "equal times take the newest", repo: f, tip: "same", at: minute(5), want: "same"},
		{name: "root", repo: f, tip: "c5", at: minute(1), want: "c1"},
		{name: "before the root", repo: f, tip: "c5", at: minute(0), wantErr: "no commit at or before 2026-11-24T15:00:00Z"},
		{name: "first parent only", repo: mr, tip: "a3", at: minute(5), want: "a2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := AsOf(context.Background(), tt.repo, tt.repo.id(tt.tip), tt.at)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrUnknownRevision)
				assert.Equal(t, tt.wantErr, err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.repo.labels[id])
		})
	}
}

func TestAsOfStopsEarly(t *testing.T) {
	f := newFake()
	f.linear(1000)
	f.commitLoads = 0
	id, err := AsOf(context.Background(), f, f.id("c1000"), minute(990))
	require.NoError(t, err)
	assert.Equal(t, "c990", f.labels[id])
	assert.Equal(t, 11, f.commitLoads)
}

// linearRepo builds n linear commits quickly: IDs are derived from the
// index instead of hashing each commit.
func linearRepo(n int) (*fakeRepo, object.ID) {
	f := newFake()
	var prev object.ID
	for i := 1; i <= n; i++ {
		c := &object.Commit{Time: minute(i), Offset: uint64(i), Message: fmt.Sprint(i)}
		if i > 1 {
			c.Parents = []object.ID{prev}
		}
		id := object.Hash(object.KindCommit, fmt.Appendf(nil, "%d", i))
		f.commits[id] = c
		prev = id
	}
	return f, prev
}

func BenchmarkLogLinear100k(b *testing.B) {
	f, tip := linearRepo(100_000)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range Log(ctx, f, LogOptions{Include: []object.ID{tip}}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 100_000 {
			b.Fatalf("%d commits", n)
		}
	}
}

func BenchmarkLogRangeLinear100k(b *testing.B) {
	f, tip := linearRepo(100_000)
	base := tip
	for range 50 {
		base = f.commits[base].Parents[0]
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		for _, err := range Log(ctx, f, LogOptions{Include: []object.ID{tip}, Exclude: []object.ID{base}}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 50 {
			b.Fatalf("%d commits", n)
		}
	}
}

// A reversed log keeps the newest reverseKeep entries whole and loads the
// older ones again as it yields them: with any number kept, it yields
// the entries the walk gave, in reverse, with their commits, parents and
// filtered events.
func TestLogReverseLoadsOlderEntriesAgain(t *testing.T) {
	f := newFake()
	ev := func(stream string) *object.Event { return object.NewEvent(stream, "T", 1, nil, []byte(`{"n":1}`)) }
	f.add("root", 1, nil, ev("a"))
	f.add("a1", 2, []string{"root"}, ev("a"), ev("b"))
	f.add("f1", 3, []string{"root"}, ev("b"))
	f.add("a2", 4, []string{"a1"}, ev("b"))
	f.add("m", 5, []string{"a2", "f1"}, ev("a"))
	f.add("a3", 6, []string{"m"}, ev("b"))
	defer func(keep int) { reverseKeep = keep }(reverseKeep)
	for _, opts := range []LogOptions{
		{Include: []object.ID{f.id("a3")}},
		{Include: []object.ID{f.id("a3")}, FirstParent: true},
		{Include: []object.ID{f.id("a3")}, Stream: "a"},
		{Include: []object.ID{f.id("a3")}, Exclude: []object.ID{f.id("a1")}},
	} {
		var forward []Entry
		for e, err := range Log(context.Background(), f, opts) {
			require.NoError(t, err)
			forward = append(forward, e)
		}
		require.NotEmpty(t, forward)
		for _, keep := range []int{0, 1, 2, 100} {
			reverseKeep = keep
			rev := opts
			rev.Reverse = true
			var got []Entry
			for e, err := range Log(context.Background(), f, rev) {
				require.NoError(t, err)
				got = append(got, e)
			}
			require.Len(t, got, len(forward), "keep %d", keep)
			for i, e := range got {
				want := forward[len(forward)-1-i]
				assert.Equal(t, want.ID, e.ID, "keep %d", keep)
				assert.Equal(t, want.Commit, e.Commit, "keep %d %s", keep, f.labels[e.ID])
				assert.Equal(t, want.Parents, e.Parents, "keep %d %s", keep, f.labels[e.ID])
				assert.Equal(t, want.Events, e.Events, "keep %d %s", keep, f.labels[e.ID])
			}
		}
	}
}
