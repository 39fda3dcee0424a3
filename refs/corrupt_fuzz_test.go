package refs_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
)

// FuzzDecodeUpdate: a ref record value decodes or fails with ErrCorrupt;
// what decodes re-encodes to a value that decodes the same.
func FuzzDecodeUpdate(f *testing.F) {
	for _, u := range []refs.Update{
		{Name: "refs/heads/main", New: object.Hash(object.KindCommit, []byte("c")), Time: time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC), Actor: "ann", Message: "commit: first"},
		{Name: "refs/tags/v1", Old: object.Hash(object.KindCommit, []byte("c")), Delete: true, Time: time.Unix(-1, 5).UTC()},
		{Name: "MODEL", New: object.Hash(object.KindBlob, []byte("m")), Message: "model set"},
	} {
		b := u.Encode()
		for n := 0; n <= len(b); n++ {
			f.Add(u.Name, b[:n])
		}
		f.Add(u.Name, append(bytes.Clone(b), 0))
	}
	f.Fuzz(func(t *testing.T, name string, b []byte) {
		u, err := refs.DecodeUpdate(name, b)
		if err != nil {
			if !errors.Is(err, refs.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if u.Name != name {
			t.Fatalf("name %q, want %q", u.Name, name)
		}
		again, err := refs.DecodeUpdate(name, u.Encode())
		if err != nil || !reflect.DeepEqual(u, again) {
			t.Fatalf("update does not round-trip: %+v, %+v (%v)", u, again, err)
		}
	})
}

// FuzzDecodeValue: a checkpoint value decodes or fails with ErrCorrupt;
// what decodes encodes back to the same bytes.
func FuzzDecodeValue(f *testing.F) {
	for _, v := range []refs.Value{{ID: object.Hash(object.KindCommit, []byte("c"))}, {Symbolic: "refs/heads/main"}} {
		b := refs.EncodeValue(v)
		for n := 0; n <= len(b); n++ {
			f.Add(b[:n])
		}
		f.Add(append(bytes.Clone(b), 1))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := refs.DecodeValue(b)
		if err != nil {
			if !errors.Is(err, refs.ErrCorrupt) {
				t.Fatalf("error %v does not match ErrCorrupt", err)
			}
			return
		}
		if got := refs.EncodeValue(v); !bytes.Equal(got, b) {
			t.Fatalf("value %+v encodes to %x, decoded from %x", v, got, b)
		}
	})
}
