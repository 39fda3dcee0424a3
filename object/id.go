package object

import (
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/zeebo/blake3"
)

// IDSize is the length of an object ID in bytes: a BLAKE3-256 digest.
const IDSize = 32

// ID names an object by the BLAKE3-256 hash of its kind, length and
// canonical body. Equal IDs mean equal objects.
type ID [IDSize]byte

// ZeroID is the ID of nothing: a ref that does not exist, a commit without
// a parent.
var ZeroID ID

// ErrCorrupt is returned when bytes that should encode an object, or the
// object behind an ID, are damaged: a decoder found them malformed or their
// hash is not the ID they were read under.
var ErrCorrupt = errors.New("corrupt")

// ErrInvalid is the kind of every refusal of bad input: a stream or type
// name, JSON, a time, a ref name, a revision's syntax, an option. The
// facade's ErrInvalid is this error, so lower packages can return errors
// that match it.
var ErrInvalid = errors.New("invalid input")

// ErrNotFound is returned when an object, a ref, a revision or a stream
// does not exist. The store, the revision walker and the facade all
// return errors matching this one value.
var ErrNotFound = errors.New("not found")

// ErrInvalidID is returned by ParseID for text that is not 64 hex digits.
var ErrInvalidID = errors.New("invalid object ID")

// String returns the ID as 64 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 7 hex digits, as Git abbreviates.
func (id ID) Short() string { return id.String()[:7] }

// IsZero reports whether id is ZeroID.
func (id ID) IsZero() bool { return id == ZeroID }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes 64 hex digits.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseID parses a full 64-digit hex ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("%w: %q has %d digits, want %d", ErrInvalidID, s, len(s), 2*IDSize)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %q is not hex", ErrInvalidID, s)
	}
	return id, nil
}

// Kind says what an object is. Its value is part of the hash and of the
// on-disk format.
type Kind uint8

// Object kinds. The numbers are part of the format.
const (
	KindBlob   Kind = 1 // raw bytes: event data, a stream's state, a model
	KindEvent  Kind = 2 // one event: stream, type, schema, meta, data ID
	KindCommit Kind = 3 // an atomic batch of events with its parents
	KindTree   Kind = 4 // a snapshot node mapping streams to states
)

var kindNames = [...]string{KindBlob: "blob", KindEvent: "event", KindCommit: "commit", KindTree: "tree"}

// String returns the kind's name as cat-file -t prints it.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// WithArticle returns the kind's name after "a" or "an", for messages:
// "an event", "a commit".
func (k Kind) WithArticle() string {
	if k == KindEvent {
		return "an event"
	}
	return "a " + k.String()
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k >= KindBlob && k <= KindTree }

// Hash returns the ID of an object of kind k with the given canonical
// body: BLAKE3-256 over "<kind> <decimal length>\x00" followed by the body,
// the same framing Git uses, so a body can never be read as another kind.
func Hash(k Kind, body []byte) ID {
	var hdr [32]byte
	h := hasherPool.Get().(*blake3.Hasher)
	h.Reset()
	_, _ = h.Write(appendHeader(hdr[:0], k, len(body)))
	_, _ = h.Write(body)
	var id ID
	h.Sum(id[:0])
	hasherPool.Put(h)
	return id
}

var hasherPool = sync.Pool{New: func() any { return blake3.New() }}

func appendHeader(dst []byte, k Kind, n int) []byte {
	dst = append(dst, k.String()...)
	dst = append(dst, ' ')
	dst = appendDecimal(dst, n)
	return append(dst, 0)
}

func appendDecimal(dst []byte, n int) []byte {
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}
