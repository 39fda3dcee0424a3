package object

import (
	"maps"
	"slices"
)

// eventFormat is the version byte that starts an encoded event.
const eventFormat = 1

// Event is one fact recorded in a stream. Its ID covers its stream, type,
// schema, meta and the ID of its data blob, not the data bytes themselves,
// so the data can later move to a blob of its own (and be shredded) without
// changing the event's ID or any commit that names it.
type Event struct {
	Stream string            // the stream the event belongs to
	Type   string            // the event type, e.g. MoneyDeposited
	Schema int               // the schema version of Data, >= 1
	Meta   map[string]string // actor, time (RFC 3339) and free-form strings
	DataID ID                // the blob ID of Data

	// Data is the canonical JSON the DataID names. It is not part of the
	// event's encoding; it travels with the event for convenience and is
	// nil when it was not loaded.
	Data []byte
}

// NewEvent builds an event whose data is already canonical JSON and sets
// its DataID.
func NewEvent(stream, typ string, schema int, meta map[string]string, data []byte) *Event {
	return &Event{Stream: stream, Type: typ, Schema: schema, Meta: meta, DataID: Hash(KindBlob, data), Data: data}
}

// Encode returns the event's canonical body. The data ID comes last, so the
// body is a prefix followed by 32 bytes that can be derived from the data.
func (e *Event) Encode() []byte {
	size := 16 + len(e.Stream) + len(e.Type) + IDSize
	for k, v := range e.Meta {
		size += len(k) + len(v) + 4
	}
	return e.AppendEncode(make([]byte, 0, size))
}

// AppendEncode appends the canonical body to dst.
func (e *Event) AppendEncode(dst []byte) []byte {
	enc := encoder{b: dst}
	enc.byte(eventFormat)
	enc.string(e.Stream)
	enc.string(e.Type)
	enc.uvarint(uint64(e.Schema))
	enc.uvarint(uint64(len(e.Meta)))
	switch len(e.Meta) {
	case 0:
	case 1:
		for k, v := range e.Meta {
			enc.string(k)
			enc.string(v)
		}
	case 2:
		var k [2]string
		i := 0
		for key := range e.Meta {
			k[i] = key
			i++
		}
		if k[1] < k[0] {
			k[0], k[1] = k[1], k[0]
		}
		for _, key := range k {
			enc.string(key)
			enc.string(e.Meta[key])
		}
	default:
		for _, k := range slices.Sorted(maps.Keys(e.Meta)) {
			enc.string(k)
			enc.string(e.Meta[k])
		}
	}
	enc.id(e.DataID)
	return enc.b
}

// ID returns the event's ID.
func (e *Event) ID() ID { return Hash(KindEvent, e.Encode()) }

// MaxSchema is the highest schema version an event may carry: input and
// models are held to it.
const MaxSchema = 1<<31 - 1

// DecodeEvent decodes a canonical event body. Data is left nil.
func DecodeEvent(body []byte) (*Event, error) {
	d := decoder{b: body, what: "event"}
	if v := d.byte(); d.err == nil && v != eventFormat {
		d.fail("unknown format %d", v)
	}
	e := &Event{}
	e.Stream = d.string()
	e.Type = d.string()
	schema := d.uvarint()
	// One past MaxSchema decodes: a model of evgit before session 8 could
	// make it the default.
	if d.err == nil && (schema < 1 || schema > MaxSchema+1) {
		d.fail("schema %d out of range", schema)
	}
	e.Schema = int(schema)
	n := d.count(2)
	if n > 0 {
		e.Meta = make(map[string]string, n)
		prev := ""
		for i := 0; i < n && d.err == nil; i++ {
			k, v := d.string(), d.string()
			if i > 0 && k <= prev {
				d.fail("meta keys not sorted")
			}
			prev = k
			e.Meta[k] = v
		}
	}
	e.DataID = d.id()
	if err := d.end(); err != nil {
		return nil, err
	}
	if err := ValidateStream(e.Stream); err != nil {
		d.fail("%v", err)
		return nil, d.err
	}
	if err := ValidateType(e.Type); err != nil {
		d.fail("%v", err)
		return nil, d.err
	}
	return e, nil
}

// EventNames returns the stream and type of a canonical event body
// without decoding the rest: a filter over many events (log --stream)
// reads only these. The slices alias body.
func EventNames(body []byte) (stream, typ []byte, err error) {
	d := decoder{b: body, what: "event"}
	if v := d.byte(); d.err == nil && v != eventFormat {
		d.fail("unknown format %d", v)
	}
	stream = d.bytes()
	typ = d.bytes()
	return stream, typ, d.err
}
