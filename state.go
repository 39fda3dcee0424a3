package evgit

import (
	"fmt"
	"time"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/store"
)

// streamState is a stream's version (its event count) and state.
type streamState struct {
	version uint64
	state   []byte // canonical JSON; nil before the first event
}

// headState caches the streams at a branch's head, so appends in one
// process do not fold history again for every commit. Writers fork it,
// change the fork, and keep the fork once the transaction succeeded.
type headState struct {
	head    object.ID
	offset  uint64
	time    time.Time
	base    *headState // read-through: the state this one forked from
	streams map[string]streamState
	// complete is set when streams (with base) holds every stream at
	// head, so a stream found in neither does not exist.
	complete bool
}

func (h *headState) fork() *headState {
	return &headState{head: h.head, offset: h.offset, time: h.time, base: h, streams: map[string]streamState{}, complete: h.complete}
}

// get returns a stream's version and state at the head.
func (h *headState) get(w *commitWriter, stream string) (streamState, error) {
	for s := h; s != nil; s = s.base {
		if st, ok := s.streams[stream]; ok {
			return st, nil
		}
	}
	if h.complete {
		return streamState{}, nil
	}
	root := h
	for root.base != nil {
		root = root.base
	}
	st, err := loadStream(w.tx, w.mdl, root.head, stream)
	if err != nil {
		return st, err
	}
	root.streams[stream] = st
	return st, nil
}

func (h *headState) set(stream string, st streamState) { h.streams[stream] = st }

func (h *headState) advance(id object.ID, c *object.Commit) {
	h.head, h.offset, h.time = id, c.Offset, c.Time
}

// flatten folds a fork into one map.
func (h *headState) flatten() *headState {
	if h.base == nil {
		return h
	}
	base := h.base.flatten()
	for k, v := range h.streams {
		base.streams[k] = v
	}
	base.head, base.offset, base.time, base.complete = h.head, h.offset, h.time, h.complete
	return base
}

// headFor returns the cached streams of a branch when the cache is at the
// branch's current head, or a fresh state that loads streams on demand.
func (r *Repository) headFor(tx *store.Tx, branchRef string) (*headState, error) {
	id, _, ok := tx.Resolve(branchRef)
	r.mu.Lock()
	hs := r.heads[branchRef]
	r.mu.Unlock()
	if hs != nil && hs.head == id {
		return hs, nil
	}
	hs = &headState{head: id, streams: map[string]streamState{}}
	if !ok || id.IsZero() {
		hs.complete = true
		return hs, nil
	}
	c, err := readCommit(tx, id)
	if err != nil {
		return nil, err
	}
	hs.offset, hs.time = c.Offset, c.Time
	return hs, nil
}

func (r *Repository) keepHead(branchRef string, hs *headState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heads[branchRef] = hs.flatten()
}

func (r *Repository) forgetHeads() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.heads = map[string]*headState{}
}

// loadStream folds one stream's events on the first-parent line ending at
// head.
func loadStream(rd reader, mdl *model.Model, head object.ID, stream string) (streamState, error) {
	var mine []*object.Event
	var total uint64
	for id := head; !id.IsZero(); {
		c, err := readCommit(rd, id)
		if err != nil {
			return streamState{}, err
		}
		for i := len(c.Events) - 1; i >= 0; i-- {
			e, err := readEvent(rd, c.Events[i])
			if err != nil {
				return streamState{}, err
			}
			if e.Stream == stream {
				mine = append(mine, e)
			}
		}
		id = c.Parent()
		total++
	}
	var st streamState
	for i := len(mine) - 1; i >= 0; i-- {
		e := mine[i]
		next, err := mdl.Apply(stream, st.state, model.Event{Type: e.Type, Schema: e.Schema, Data: e.Data, Meta: e.Meta})
		if err != nil {
			return st, fmt.Errorf("folding %s: %w", stream, err)
		}
		st = streamState{version: st.version + 1, state: next}
	}
	return st, nil
}
