package object

import "time"

// commitFormat is the version byte that starts an encoded commit.
const commitFormat = 1

// Commit is an atomic batch of events appended to a branch. Its ID covers
// its parents, so a commit proves the whole history behind it.
// Snapshots are not part of a commit: the same events give the same
// commit ID whatever model folds them.
type Commit struct {
	Parents        []ID      // first parent first; none for a root commit
	Events         []ID      // the batch, in order; applied all or nothing
	Time           time.Time // commit time, UTC, nanosecond precision
	Offset         uint64    // events on the first-parent line up to and including this commit
	Actor          string    // who appended
	Message        string    // free text
	IdempotencyKey string    // optional; unique per branch
	Reverts        []ID      // commits whose events this commit compensates
}

// Encode returns the commit's canonical body.
func (c *Commit) Encode() []byte {
	size := 32 + IDSize*(len(c.Parents)+len(c.Events)+len(c.Reverts)) + len(c.Actor) + len(c.Message) + len(c.IdempotencyKey)
	return c.AppendEncode(make([]byte, 0, size))
}

// AppendEncode appends the canonical body to dst.
func (c *Commit) AppendEncode(dst []byte) []byte {
	enc := encoder{b: dst}
	enc.byte(commitFormat)
	enc.ids(c.Parents)
	enc.ids(c.Events)
	enc.varint(c.Time.UnixNano())
	enc.uvarint(c.Offset)
	enc.string(c.Actor)
	enc.string(c.Message)
	enc.string(c.IdempotencyKey)
	enc.ids(c.Reverts)
	return enc.b
}

// ID returns the commit's ID.
func (c *Commit) ID() ID { return Hash(KindCommit, c.Encode()) }

// Parent returns the first parent, or ZeroID for a root commit.
func (c *Commit) Parent() ID {
	if len(c.Parents) == 0 {
		return ZeroID
	}
	return c.Parents[0]
}

// DecodeCommit decodes a canonical commit body.
func DecodeCommit(body []byte) (*Commit, error) {
	d := decoder{b: body, what: "commit"}
	if v := d.byte(); d.err == nil && v != commitFormat {
		d.fail("unknown format %d", v)
	}
	c := &Commit{}
	c.Parents = d.ids()
	c.Events = d.ids()
	c.Time = time.Unix(0, d.varint()).UTC()
	c.Offset = d.uvarint()
	c.Actor = d.string()
	c.Message = d.string()
	c.IdempotencyKey = d.string()
	c.Reverts = d.ids()
	if err := d.end(); err != nil {
		return nil, err
	}
	if uint64(len(c.Events)) > c.Offset {
		d.fail("offset %d is less than its %d events", c.Offset, len(c.Events))
		return nil, d.err
	}
	return c, nil
}
