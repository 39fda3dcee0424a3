package walk

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// fakeRepo is an in-memory Source. Tests name commits by labels.
type fakeRepo struct {
	commits map[object.ID]*object.Commit
	events  map[object.ID]*object.Event
	refs    map[string]object.ID
	reflogs map[string][]ReflogEntry
	ids     map[string]object.ID // label → ID
	labels  map[object.ID]string // ID → label

	commitLoads int
	failRef     error // returned by Ref when set
}

func newFake() *fakeRepo {
	return &fakeRepo{
		commits: map[object.ID]*object.Commit{},
		events:  map[object.ID]*object.Event{},
		refs:    map[string]object.ID{},
		reflogs: map[string][]ReflogEntry{},
		ids:     map[string]object.ID{},
		labels:  map[object.ID]string{},
	}
}

// t0 is the time of minute 0 in the fake histories.
var t0 = time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC)

// minute returns t0 plus m minutes.
func minute(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// add appends a commit labelled label at minute m with the given parent
// labels. Without events it holds one event of stream "s/<label>" and type
// "Note".
func (f *fakeRepo) add(label string, m int, parents []string, events ...*object.Event) object.ID {
	if len(events) == 0 {
		events = []*object.Event{object.NewEvent("s/"+label, "Note", 1, nil, []byte(`{}`))}
	}
	c := &object.Commit{Time: minute(m), Message: label, Actor: "test"}
	for _, p := range parents {
		id, ok := f.ids[p]
		if !ok {
			panic("fake: unknown parent " + p)
		}
		c.Parents = append(c.Parents, id)
	}
	if len(c.Parents) > 0 {
		c.Offset = f.commits[c.Parents[0]].Offset
	}
	c.Offset += uint64(len(events))
	for _, e := range events {
		id := e.ID()
		f.events[id] = e
		c.Events = append(c.Events, id)
	}
	return f.put(label, c.ID(), c)
}

// put stores c under a chosen ID.
func (f *fakeRepo) put(label string, id object.ID, c *object.Commit) object.ID {
	f.commits[id] = c
	f.ids[label] = id
	f.labels[id] = label
	return id
}

// linear adds commits c1..cn, each a minute after the previous, and points
// refs/heads/main and HEAD at the last.
func (f *fakeRepo) linear(n int) {
	for i := 1; i <= n; i++ {
		var parents []string
		if i > 1 {
			parents = []string{fmt.Sprintf("c%d", i-1)}
		}
		f.add(fmt.Sprintf("c%d", i), i, parents)
	}
	tip := f.ids[fmt.Sprintf("c%d", n)]
	f.refs["refs/heads/main"] = tip
	f.refs["HEAD"] = tip
}

func (f *fakeRepo) id(label string) object.ID {
	id, ok := f.ids[label]
	if !ok {
		panic("fake: unknown label " + label)
	}
	return id
}

func (f *fakeRepo) Commit(_ context.Context, id object.ID) (*object.Commit, error) {
	f.commitLoads++
	c, ok := f.commits[id]
	if !ok {
		return nil, fmt.Errorf("commit %s: %w", id.Short(), ErrNotFound)
	}
	return c, nil
}

func (f *fakeRepo) Event(_ context.Context, id object.ID) (*object.Event, error) {
	e, ok := f.events[id]
	if !ok {
		return nil, fmt.Errorf("event %s: %w", id.Short(), ErrNotFound)
	}
	return e, nil
}

func (f *fakeRepo) Ref(name string) (object.ID, bool, error) {
	if f.failRef != nil {
		return object.ZeroID, false, f.failRef
	}
	if err := refs.CheckRefName(name); err != nil {
		return object.ZeroID, false, fmt.Errorf("fake: walk asked for a bad name: %w", err)
	}
	id, ok := f.refs[name]
	return id, ok, nil
}

func (f *fakeRepo) Reflog(name string) ([]ReflogEntry, error) {
	if err := refs.CheckRefName(name); err != nil {
		return nil, fmt.Errorf("fake: walk asked for a bad name: %w", err)
	}
	return f.reflogs[name], nil
}

func (f *fakeRepo) Lookup(prefix string) ([]object.ID, error) {
	if len(prefix) < minHexPrefix || strings.ToLower(prefix) != prefix {
		return nil, fmt.Errorf("fake: bad prefix %q", prefix)
	}
	var out []object.ID
	for id := range f.commits {
		if strings.HasPrefix(id.String(), prefix) {
			out = append(out, id)
		}
	}
	return out, nil
}

// labelsOf maps IDs to labels.
func (f *fakeRepo) labelsOf(ids ...object.ID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.labels[id]
	}
	return out
}

// mustID builds an ID from hex digits padded with the digit pad.
func mustID(t testing.TB, hexPrefix string, pad byte) object.ID {
	t.Helper()
	id, err := object.ParseID(hexPrefix + strings.Repeat(string(pad), 64-len(hexPrefix)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}
