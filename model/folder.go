package model

import (
	"fmt"

	"github.com/evgit/evgit/object"
)

// folderDecodedMin is the smallest state a Folder keeps decoded between
// merge patches. Below it, merging on the bytes (one pass, no maps) is
// cheaper than decoding and encoding. A variable so tests can lower it.
var folderDecodedMin = 4 << 10

// Folder replays one stream's events in order, as Replay does one at a
// time, for a caller that folds many: between merge patches it keeps a
// large state decoded, so a run of patches costs each patch's size and
// one encoding at the end, where Replay's bytes in and bytes out cost the
// whole state for every event (1,000 events onto a state of a megabyte
// took seconds; a helper's audit). The states it gives are Replay's, byte
// for byte.
type Folder struct {
	m      *Model
	stream string
	raw    []byte // the state's canonical JSON, when !ahead
	val    any    // the state decoded, when decoded
	// decoded says val holds the state; ahead, that raw lags behind it.
	decoded, ahead bool
}

// Folder returns a Folder of stream starting from state (canonical JSON;
// nil or empty: null, no event yet).
func (m *Model) Folder(stream string, state []byte) *Folder {
	return &Folder{m: m, stream: stream, raw: state}
}

// LargeState reports whether a state is large enough that a Folder pays:
// merging a patch on its bytes would cost more than keeping it decoded.
func LargeState(state []byte) bool { return len(state) >= folderDecodedMin }

// Replay folds one event, as Model.Replay does.
func (f *Folder) Replay(ev Event) error { return f.fold(ev, false) }

// Apply folds one event as Model.Apply does: with the requires of its
// type checked, for a writer. An event refused leaves the Folder as it
// was.
func (f *Folder) Apply(ev Event) error { return f.fold(ev, true) }

func (f *Folder) fold(ev Event, check bool) error {
	patch := f.m.rules(ev.Type) == nil && !f.m.upcastsFrom(ev.Type, ev.Schema)
	if patch && (f.decoded || len(f.raw) >= folderDecodedMin) {
		if !f.decoded {
			st, err := decodeState(f.raw)
			if err != nil {
				return eventError(f.stream, ev.Type, fmt.Errorf("state: %w", err))
			}
			f.val, f.decoded = st, true
		}
		data, err := decodeData(f.stream, ev)
		if err != nil {
			return err
		}
		f.val, f.ahead = mergePatch(f.val, data), true
		return nil
	}
	raw, err := f.State()
	if err != nil {
		return err
	}
	next, err := f.m.fold(f.stream, raw, ev, check)
	if err != nil {
		return err
	}
	f.raw, f.val, f.decoded = next, nil, false
	return nil
}

// State returns the state after the events folded so far, as canonical
// JSON (nil before the first). The caller may keep it: later events do
// not change it.
func (f *Folder) State() ([]byte, error) {
	if f.ahead {
		b, err := object.AppendJSON(make([]byte, 0, len(f.raw)+64), f.val)
		if err != nil {
			return nil, err
		}
		f.raw, f.ahead = b, false
	}
	return f.raw, nil
}
