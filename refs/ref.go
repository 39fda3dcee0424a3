package refs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/evgit/evgit/object"
)

// ErrConflict is returned when a compare-and-swap update finds the ref
// moved: its current value is not the old value the update expected.
var ErrConflict = errors.New("ref moved")

// ErrCorrupt is returned when a stored ref record does not decode. It is
// object.ErrCorrupt.
var ErrCorrupt = object.ErrCorrupt

// Model is the name of the ref that points at the repository's model blob.
// It is not a branch or a tag: revisions never resolve to it.
const Model = "MODEL"

// Value is what a ref holds: an object ID, or for a symbolic ref (HEAD on a
// branch) the name of the ref it follows.
type Value struct {
	ID       object.ID // the object the ref points at; ZeroID for a symbolic ref
	Symbolic string    // the full name of the ref followed; empty when not symbolic
}

// IsSymbolic reports whether the value names another ref.
func (v Value) IsSymbolic() bool { return v.Symbolic != "" }

// Update is one move of a ref, and the reflog entry that records it.
type Update struct {
	Name    string    // the ref's full name, such as refs/heads/main or HEAD
	Old     object.ID // ZeroID: the ref did not exist
	New     object.ID // ZeroID with Delete set: the ref is deleted
	Delete  bool      // the update deletes the ref
	Time    time.Time // when the ref moved, kept to the nanosecond
	Actor   string    // who moved it; empty: none given
	Message string    // why, as the reflog shows it, such as "branch: Created from HEAD"
}

// updateFlagDelete marks a deletion in an encoded update. Part of the format.
const updateFlagDelete = 1

// Encode returns the update's record value; the name is the record's key.
func (u Update) Encode() []byte {
	b := make([]byte, 0, 1+2*object.IDSize+10+len(u.Actor)+len(u.Message)+4)
	var flags byte
	if u.Delete {
		flags |= updateFlagDelete
	}
	b = append(b, flags)
	b = append(b, u.Old[:]...)
	b = append(b, u.New[:]...)
	b = binary.AppendVarint(b, u.Time.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(u.Actor)))
	b = append(b, u.Actor...)
	b = binary.AppendUvarint(b, uint64(len(u.Message)))
	b = append(b, u.Message...)
	return b
}

// DecodeUpdate decodes an update's record value.
func DecodeUpdate(name string, b []byte) (Update, error) {
	u := Update{Name: name}
	bad := func() (Update, error) { return Update{}, fmt.Errorf("%w: update of %q", ErrCorrupt, name) }
	if len(b) < 1+2*object.IDSize {
		return bad()
	}
	u.Delete = b[0]&updateFlagDelete != 0
	copy(u.Old[:], b[1:])
	copy(u.New[:], b[1+object.IDSize:])
	b = b[1+2*object.IDSize:]
	t, n := binary.Varint(b)
	if n <= 0 {
		return bad()
	}
	u.Time = time.Unix(0, t).UTC()
	b = b[n:]
	for _, dst := range []*string{&u.Actor, &u.Message} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return bad()
		}
		*dst = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return bad()
	}
	return u, nil
}

// EncodeValue returns the record value of a ref's current value, as a
// checkpoint stores it: 1 and an ID, or 2 and a ref name. Part of the format.
func EncodeValue(v Value) []byte {
	if v.IsSymbolic() {
		return append([]byte{2}, v.Symbolic...)
	}
	return append([]byte{1}, v.ID[:]...)
}

// DecodeValue decodes what EncodeValue wrote.
func DecodeValue(b []byte) (Value, error) {
	switch {
	case len(b) == 1+object.IDSize && b[0] == 1:
		return Value{ID: object.ID(b[1:])}, nil
	case len(b) > 1 && b[0] == 2:
		return Value{Symbolic: string(b[1:])}, nil
	}
	return Value{}, fmt.Errorf("%w: bad ref value", ErrCorrupt)
}

// Table holds the current value of every ref. It is not safe for
// concurrent use; the store guards it.
type Table struct {
	m map[string]Value
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{m: map[string]Value{}} }

// Get returns a ref's value.
func (t *Table) Get(name string) (Value, bool) {
	v, ok := t.m[name]
	return v, ok
}

// Set sets a ref's value.
func (t *Table) Set(name string, v Value) { t.m[name] = v }

// Delete removes a ref.
func (t *Table) Delete(name string) { delete(t.m, name) }

// Apply applies an update without checking its old value.
func (t *Table) Apply(u Update) {
	if u.Delete {
		delete(t.m, u.Name)
		return
	}
	t.m[u.Name] = Value{ID: u.New}
}

// All returns every ref.
func (t *Table) All() map[string]Value { return t.m }

// Clone returns a copy of the table.
func (t *Table) Clone() *Table {
	c := NewTable()
	for k, v := range t.m {
		c.m[k] = v
	}
	return c
}

// Resolve follows symbolic refs to an ID. A symbolic ref whose target does
// not exist (HEAD on an unborn branch) resolves to ZeroID with the name of
// the target.
func (t *Table) Resolve(name string) (id object.ID, target string, ok bool) {
	for range 5 {
		v, found := t.m[name]
		if !found {
			return object.ZeroID, name, false
		}
		if !v.IsSymbolic() {
			return v.ID, name, true
		}
		name = v.Symbolic
	}
	return object.ZeroID, name, false
}
