package walk

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/object"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// drawLog renders log --graph --oneline for opts, with each commit's label
// as its text; with full set, each commit also gets a message line under
// the Padding prefix, as a full log format would.
func drawLog(t *testing.T, f *fakeRepo, opts LogOptions, full bool) string {
	t.Helper()
	var g GraphWriter
	opts.Skipped = g.Skip
	var b strings.Builder
	for e, err := range Log(context.Background(), f, opts) {
		require.NoError(t, err)
		before, prefix := g.Next(e.ID, e.Parents)
		for _, l := range before {
			b.WriteString(l + "\n")
		}
		b.WriteString(prefix + f.labels[e.ID] + "\n")
		if full {
			b.WriteString(strings.TrimRight(g.Padding()+"    message of "+f.labels[e.ID], " ") + "\n")
		}
	}
	return b.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

// forkRepo has two branch tips off one base:
//
//	b(1) ─ m1(2) ─ m2(4)   main
//	    └─ f1(3) ─ f2(5)   feature
func forkRepo() *fakeRepo {
	f := newFake()
	f.add("b", 1, nil)
	f.add("m1", 2, []string{"b"})
	f.add("f1", 3, []string{"b"})
	f.add("m2", 4, []string{"m1"})
	f.add("f2", 5, []string{"f1"})
	return f
}

func TestGraphGolden(t *testing.T) {
	lin := newFake()
	lin.linear(4)
	fork := forkRepo()
	mr := mergeRepo(t)

	octo := newFake()
	octo.add("r", 1, nil)
	octo.add("x", 2, []string{"r"})
	octo.add("y", 3, []string{"r"})
	octo.add("z", 4, []string{"r"})
	octo.add("o", 5, []string{"x", "y", "z"})
	octo.add("side", 6, []string{"r"})

	tests := []struct {
		name string
		repo *fakeRepo
		opts func(f *fakeRepo) LogOptions
		full bool
	}{
		{name: "graph_linear", repo: lin,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("c4")}} }},
		{name: "graph_fork", repo: fork,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("m2"), f.id("f2")}} }},
		{name: "graph_merge", repo: mr,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("a3")}} }},
		{name: "graph_merge_full", repo: mr, full: true,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("a3")}} }},
		{name: "graph_merge_first_parent", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, FirstParent: true}
			}},
		{name: "graph_merge_filtered", repo: mr,
			opts: func(f *fakeRepo) LogOptions {
				return LogOptions{Include: []object.ID{f.id("a3")}, Until: minute(5)}
			}},
		{name: "graph_octopus", repo: octo,
			opts: func(f *fakeRepo) LogOptions { return LogOptions{Include: []object.ID{f.id("o"), f.id("side")}} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, tt.name, drawLog(t, tt.repo, tt.opts(tt.repo), tt.full))
		})
	}
}

func TestGraphLinearWithFilters(t *testing.T) {
	// Whatever a filter hides, a linear history stays one column.
	f := newFake()
	f.linear(20)
	for _, opts := range []LogOptions{
		{Stream: "s/c7"},
		{Until: minute(12), Since: minute(3)},
		{Type: "Note", Max: 5},
		{Exclude: []object.ID{f.id("c10")}},
	} {
		opts.Include = []object.ID{f.id("c20")}
		out := drawLog(t, f, opts, false)
		require.NotEmpty(t, out)
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			assert.True(t, strings.HasPrefix(line, "* c"), "%q in\n%s", line, out)
		}
	}
}

func TestGraphEveryLineHasLanes(t *testing.T) {
	// A messy history: several tips, merges of merges, a merge of a
	// commit that another lane already waits for. Every line must stay
	// drawable: exactly one "*" on commit lines, and prefixes line up.
	f := newFake()
	f.add("r", 1, nil)
	f.add("a", 2, []string{"r"})
	f.add("b", 3, []string{"r"})
	f.add("c", 4, []string{"a"})
	f.add("d", 5, []string{"b", "a"})
	f.add("e", 6, []string{"c", "d"})
	f.add("g", 7, []string{"d"})
	f.add("h", 8, []string{"e", "g", "b"})
	f.add("solo", 9, nil)
	out := drawLog(t, f, LogOptions{Include: []object.ID{f.id("h"), f.id("solo"), f.id("g")}}, false)
	commits := 0
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if n := strings.Count(line, "*"); n > 0 {
			assert.Equal(t, 1, n, "%q in\n%s", line, out)
			commits++
			graph := line[:strings.LastIndex(line, " ")+1]
			assert.Zero(t, len(graph)%2, "prefix %q is whole lanes", graph)
			continue
		}
		assert.Empty(t, strings.Trim(line, `|/\ `), "%q in\n%s", line, out)
	}
	assert.Equal(t, 9, commits)
}
