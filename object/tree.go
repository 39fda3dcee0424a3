package object

// treeFormat is the version byte that starts an encoded tree node.
const treeFormat = 1

// TreeFanout is how many children an inner snapshot node has: one per
// nibble of the stream name's hash. Part of the format.
const TreeFanout = 16

// TreeLeafMax is the most entries a leaf holds; a node with more streams
// below it is an inner node. Part of the format: with it, a set of stream
// states has exactly one tree, whatever history built it.
const TreeLeafMax = 32

// InlineStateMax is the largest state kept inside its tree leaf instead of
// in a blob of its own. Part of the format.
const InlineStateMax = 64

// TreeEntry is one stream in a snapshot leaf.
type TreeEntry struct {
	Stream  string // the stream's name
	Version uint64 // events in the stream
	// State is the state's canonical JSON when it is at most
	// InlineStateMax bytes; otherwise nil and StateID names the blob.
	State   []byte
	StateID ID // always set: the blob ID of the state
}

// Tree is a snapshot node. A leaf lists up to TreeLeafMax streams sorted
// by name; an inner node has a child for each nibble of the streams'
// hashes that occurs below it, and the count of streams under it.
type Tree struct {
	Leaf     bool           // a leaf (Entries set); false: an inner node
	Entries  []TreeEntry    // leaf only
	Children [TreeFanout]ID // inner only; ZeroID where no stream falls
	Count    uint64         // inner only: streams below
}

// Encode returns the node's canonical body.
func (t *Tree) Encode() []byte {
	enc := encoder{}
	enc.byte(treeFormat)
	if t.Leaf {
		enc.byte(0)
		enc.uvarint(uint64(len(t.Entries)))
		for _, e := range t.Entries {
			enc.string(e.Stream)
			enc.uvarint(e.Version)
			if e.State != nil {
				enc.byte(1)
				enc.bytes(e.State)
			} else {
				enc.byte(0)
				enc.id(e.StateID)
			}
		}
		return enc.b
	}
	enc.byte(1)
	enc.uvarint(t.Count)
	var mask uint16
	for i, c := range t.Children {
		if !c.IsZero() {
			mask |= 1 << i
		}
	}
	enc.byte(byte(mask))
	enc.byte(byte(mask >> 8))
	for _, c := range t.Children {
		if !c.IsZero() {
			enc.id(c)
		}
	}
	return enc.b
}

// ID returns the node's ID.
func (t *Tree) ID() ID { return Hash(KindTree, t.Encode()) }

// DecodeTree decodes a canonical tree node.
func DecodeTree(body []byte) (*Tree, error) {
	d := decoder{b: body, what: "tree"}
	if v := d.byte(); d.err == nil && v != treeFormat {
		d.fail("unknown format %d", v)
	}
	t := &Tree{}
	switch kind := d.byte(); {
	case d.err != nil:
	case kind == 0:
		t.Leaf = true
		n := d.count(3)
		if n > TreeLeafMax {
			d.fail("leaf of %d entries", n)
		}
		t.Entries = make([]TreeEntry, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			e := TreeEntry{Stream: d.string(), Version: d.uvarint()}
			switch d.byte() {
			case 0:
				e.StateID = d.id()
			case 1:
				e.State = d.bytes()
				if len(e.State) > InlineStateMax {
					d.fail("inline state of %d bytes", len(e.State))
				}
				e.StateID = Hash(KindBlob, e.State)
			default:
				d.fail("bad state kind")
			}
			if i > 0 && e.Stream <= t.Entries[i-1].Stream {
				d.fail("entries not sorted")
			}
			t.Entries = append(t.Entries, e)
		}
	case kind == 1:
		t.Count = d.uvarint()
		mask := uint16(d.byte()) | uint16(d.byte())<<8
		if d.err == nil && mask == 0 {
			d.fail("inner node without children")
		}
		for i := range t.Children {
			if mask&(1<<i) != 0 {
				t.Children[i] = d.id()
			}
		}
	default:
		d.fail("bad node kind %d", kind)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return t, nil
}
