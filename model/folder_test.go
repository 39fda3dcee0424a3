package model

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFolderGivesReplaysStates: random runs of merge patches (nested
// objects, nulls that delete, arrays and scalars that replace, states
// small and past folderDecodedMin), with the bank model's typed events
// and an upcast among them, give byte for byte the states Replay gives
// one event at a time, read at random points.
func TestFolderGivesReplaysStates(t *testing.T) {
	m := bankModel(t)
	rng := rand.New(rand.NewPCG(7, 19))
	value := func(depth int) string {
		switch rng.IntN(6) {
		case 0:
			return "null"
		case 1:
			return fmt.Sprint(rng.IntN(1 << 40))
		case 2:
			return fmt.Sprintf(`"s%d"`, rng.IntN(50))
		case 3:
			return fmt.Sprintf(`[%d,{"a":%d}]`, rng.IntN(9), rng.IntN(9))
		case 4:
			if depth < 2 {
				return fmt.Sprintf(`{"k%d":%d,"n%d":null}`, rng.IntN(8), rng.IntN(99), rng.IntN(8))
			}
		}
		return "true"
	}
	old := folderDecodedMin
	t.Cleanup(func() { folderDecodedMin = old })
	for run := range 40 {
		// Half the runs keep states decoded from 64 bytes on, so both
		// ways run on states of every shape.
		folderDecodedMin = old
		if run%2 == 1 {
			folderDecodedMin = 64
		}
		keys := 5 + rng.IntN(400)
		var raw []byte
		f := m.Folder("doc", nil)
		for i := range 300 {
			var e Event
			switch rng.IntN(20) {
			case 0:
				e = ev("AccountFrozen", `{}`) // a typed event on the same state
			case 1:
				e = Event{Type: "FeeCharged", Schema: 1, Data: []byte(`{"value":0}`)} // upcast, then rules
			case 2:
				e = ev("Replaced", value(1)) // a patch that is not an object
			default:
				patch := "{"
				for j := range 1 + rng.IntN(4) {
					if j > 0 {
						patch += ","
					}
					patch += fmt.Sprintf(`"f%03d":%s`, rng.IntN(keys), value(0))
				}
				e = ev("Edited", patch+`,"balance":5}`)
			}
			next, wantErr := m.Replay("doc", raw, e)
			gotErr := f.Replay(e)
			if wantErr != nil {
				require.Error(t, gotErr, "run %d event %d", run, i)
				assert.Equal(t, wantErr.Error(), gotErr.Error())
				f = m.Folder("doc", raw) // start again where Replay stands
				continue
			}
			require.NoError(t, gotErr, "run %d event %d: %s", run, i, e.Data)
			raw = next
			if rng.IntN(7) == 0 || i == 299 {
				got, err := f.State()
				require.NoError(t, err)
				require.Equal(t, string(raw), string(got), "run %d event %d", run, i)
			}
		}
	}
}

// BenchmarkReplayLargeState replays 1,000 one-key merge patches onto a
// state of 10,000 keys (about 1 MB), one event at a time and through a
// Folder.
func BenchmarkReplayLargeState(b *testing.B) {
	var m *Model
	state := []byte("{")
	for i := range 10_000 {
		if i > 0 {
			state = append(state, ',')
		}
		state = fmt.Appendf(state, `"key-%05d":"a value of some length, %d"`, i, i)
	}
	state = append(state, '}')
	events := make([]Event, 1000)
	for i := range events {
		events[i] = ev("Edited", fmt.Sprintf(`{"key-%05d":%d}`, i*7%10_000, i))
	}
	b.Run("replay", func(b *testing.B) {
		for b.Loop() {
			st := state
			for _, e := range events {
				var err error
				if st, err = m.Replay("doc", st, e); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("folder", func(b *testing.B) {
		for b.Loop() {
			f := m.Folder("doc", state)
			for _, e := range events {
				if err := f.Replay(e); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := f.State(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
