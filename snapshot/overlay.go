package snapshot

import (
	"sync"

	"github.com/evgit/evgit/object"
)

// Overlay is a Sink that keeps what is put in memory, and a Source that
// reads it back before asking the source beneath. It holds trees computed
// to be read once (the snapshot of a commit that has none recorded) and
// never stored. It is safe for concurrent use.
type Overlay struct {
	under Source
	mu    sync.Mutex
	objs  map[object.ID]overlayObject
}

type overlayObject struct {
	kind object.Kind
	body []byte
}

// NewOverlay returns an empty Overlay in front of under.
func NewOverlay(under Source) *Overlay {
	return &Overlay{under: under, objs: map[object.ID]overlayObject{}}
}

// PutObject keeps an object in memory and returns its ID.
func (o *Overlay) PutObject(kind object.Kind, body []byte) object.ID {
	id := object.Hash(kind, body)
	o.mu.Lock()
	o.objs[id] = overlayObject{kind: kind, body: body}
	o.mu.Unlock()
	return id
}

// Get returns an object put in the overlay, or else the source's.
func (o *Overlay) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	o.mu.Lock()
	ob, ok := o.objs[id]
	o.mu.Unlock()
	if ok {
		return ob.kind, ob.body, nil, nil
	}
	return o.under.Get(id)
}

// Len returns how many objects the overlay holds.
func (o *Overlay) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.objs)
}

// Objects returns the IDs and kinds of the objects put in the overlay.
func (o *Overlay) Objects() map[object.ID]object.Kind {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[object.ID]object.Kind, len(o.objs))
	for id, ob := range o.objs {
		out[id] = ob.kind
	}
	return out
}
