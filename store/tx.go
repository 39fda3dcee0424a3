package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/pack"
	"github.com/evgit/evgit/refs"
)

// Tx is one transaction: the objects and records it adds land in one
// frame, all or nothing. Reads through a Tx see what it and the
// transactions before it in the same group added.
type Tx struct {
	s       *Store
	group   *groupState
	payload pack.Payload
	objs    map[object.ID]int // index into order; built on first need
	order   []objSlot
	refs    map[string]*refs.Value // nil value: deleted
	recs    []pack.Record
	idem    map[string][][]byte
	snaps   map[string]object.ID
	links   map[object.ID][]byte
	// branchIdem: idem holds a key recorded under a branch (BranchIdem).
	branchIdem bool
	// A detached transaction (Store.Detached) is built without the lock:
	// it reads only what it added, its ref moves are checked when it is
	// written (expect: the value each moved ref must still hold), and
	// frame is its payload compressed ahead (Seal). headAt and headOnAt
	// are what it assumed of HEAD (AssumeHead).
	detached   bool
	expect     map[string]object.ID
	headAt     string
	headOnAt   bool
	frame      []byte
	sealed     bool // Seal made frame; the payload and bodies are gone
	sealedN    int  // the entries in frame
	sealedSize int  // the payload bytes in frame
	sealedObjs []sealedObj
	// SpillFrame moved the frame and sealedObjs to spill, at spilled;
	// the frame is the span's first spilledFrame bytes.
	spill        *Spill
	spilled      SpillSpan
	spilledFrame int
	// ahead are the pieces of the payload's start being compressed on
	// other goroutines (CompressAhead), in order.
	ahead []*compressAhead
}

type compressAhead struct {
	end  int // where the piece ends in the payload; set before the goroutine starts
	done chan struct{}
	c    pack.Compressed // set by the goroutine, read after done
}

// compressedAhead waits for the pieces compressed ahead.
func (tx *Tx) compressedAhead() []pack.Compressed {
	out := make([]pack.Compressed, len(tx.ahead))
	for i, a := range tx.ahead {
		<-a.done
		out[i] = a.c
	}
	return out
}

type pending struct {
	kind       object.Kind
	body, data []byte
}

type objSlot struct {
	id   object.ID
	slot int
	p    pending
}

// groupState is what earlier transactions of a group added, visible to
// later ones before the group is durable.
type groupState struct {
	txs   []*Tx // transactions merged so far, whose objects later ones may read
	refs  map[string]*refs.Value
	idem  map[string][][]byte
	snaps map[string]object.ID
	links map[object.ID][]byte
	// branchIdem: idem holds a key recorded under a branch (BranchIdem).
	branchIdem bool
}

func newGroupState() *groupState {
	return &groupState{links: map[object.ID][]byte{}, refs: map[string]*refs.Value{}, idem: map[string][][]byte{}, snaps: map[string]object.ID{}}
}

func (s *Store) newTx(g *groupState) *Tx {
	return &Tx{s: s, group: g, links: map[object.ID][]byte{}, refs: map[string]*refs.Value{}, idem: map[string][][]byte{}, snaps: map[string]object.ID{}}
}

func (tx *Tx) put(id object.ID, p pending, add func() int) object.ID {
	tx.order = append(tx.order, objSlot{id: id, slot: add(), p: p})
	if tx.objs != nil {
		tx.objs[id] = len(tx.order) - 1
	}
	return id
}

// pending returns an object this transaction added. The index of its
// objects is built on the first call, so a transaction that never reads
// its own objects (an import batch) never builds it.
func (tx *Tx) pending(id object.ID) (pending, bool) {
	if tx.objs == nil {
		tx.objs = make(map[object.ID]int, len(tx.order))
		for i, o := range tx.order {
			tx.objs[o.id] = i
		}
	}
	if i, ok := tx.objs[id]; ok {
		return tx.order[i].p, true
	}
	return pending{}, false
}

// Reserve sizes the transaction for about objects objects of about bytes
// in all, so that a large batch does not regrow its buffers as it fills.
func (tx *Tx) Reserve(objects, bytes int) {
	tx.order = slices.Grow(tx.order, objects)
	tx.payload.Grow(bytes)
}

// CompressAhead starts compressing what the transaction added since the
// last call on another goroutine, when that is enough to be worth it: the
// write then compresses only what is added after. A large commit calls
// it once its events are in, while it folds them. The bytes compressed
// never change: a payload only grows.
func (tx *Tx) CompressAhead() {
	from := tx.aheadEnd()
	if tx.detached || tx.payload.Size()-from < compressAheadMin {
		return
	}
	payload := tx.payload.Bytes()
	a := &compressAhead{end: len(payload), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		a.c = pack.Compress(payload, from)
	}()
	tx.ahead = append(tx.ahead, a)
}

// compressAheadMin is the least that CompressAhead compresses ahead.
const compressAheadMin = 64 << 10

// Piece is a run of objects encoded and compressed away from any
// transaction, on any goroutine, for Tx.PutPiece: a large snapshot tree
// built beside a commit is compressed where it is built, not on the path
// of the commit that records it.
type Piece struct {
	payload pack.Payload
	objs    []objSlot // slots within the piece
	zstd    []byte    // the payload compressed; nil until Compress
}

// NewPiece returns an empty piece with room for n objects of about bytes
// bytes in all, so that it does not regrow as it fills.
func NewPiece(n, bytes int) *Piece {
	p := &Piece{objs: make([]objSlot, 0, n)}
	p.payload.Grow(bytes)
	return p
}

// PutHashed adds a blob or tree body whose ID the caller computed, as
// Tx.PutHashed does.
func (p *Piece) PutHashed(id object.ID, kind object.Kind, body []byte) {
	p.objs = append(p.objs, objSlot{id: id, slot: p.payload.AddObject(kind, body), p: pending{kind: kind, body: body}})
}

// Compress compresses the piece; nothing may be added after.
func (p *Piece) Compress() {
	if p.payload.Size() > 0 {
		p.zstd = pack.Compress(p.payload.Bytes(), 0).Zstd
	}
}

// PutPiece adds a piece's objects after what the transaction holds, with
// the piece's compressed bytes, which the write then uses as they are: the
// piece starts a piece of its own in the frame, so what the transaction
// added since the last piece compressed ahead is compressed now. A piece
// not compressed, or a detached transaction (which compresses its payload
// whole, Seal), takes the objects one by one.
func (tx *Tx) PutPiece(p *Piece) {
	if p.zstd == nil || tx.detached {
		for _, o := range p.objs {
			tx.PutHashed(o.id, o.p.kind, o.p.body)
		}
		return
	}
	if from := tx.aheadEnd(); tx.payload.Size() > from {
		if tx.payload.Size()-from >= compressAheadMin {
			tx.CompressAhead()
		} else {
			payload := tx.payload.Bytes()
			tx.ahead = append(tx.ahead, &compressAhead{end: len(payload), done: compressedNow, c: pack.Compress(payload, from)})
		}
	}
	base := tx.payload.Append(&p.payload)
	for _, o := range p.objs {
		o.slot += base
		tx.order = append(tx.order, o)
		if tx.objs != nil {
			tx.objs[o.id] = len(tx.order) - 1
		}
	}
	end := tx.payload.Size()
	tx.ahead = append(tx.ahead, &compressAhead{end: end, done: compressedNow, c: pack.Compressed{N: end, Zstd: p.zstd}})
}

// aheadEnd returns where the pieces compressed ahead end in the payload.
func (tx *Tx) aheadEnd() int {
	if n := len(tx.ahead); n > 0 {
		return tx.ahead[n-1].end
	}
	return 0
}

// compressedNow is the done channel of a piece compressed already: closed
// from the start.
var compressedNow = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// PutEvent adds an event with its data, whole, and returns its ID.
func (tx *Tx) PutEvent(e *object.Event) object.ID {
	body := e.Encode()
	id := object.Hash(object.KindEvent, body)
	return tx.put(id, pending{kind: object.KindEvent, body: body, data: e.Data}, func() int { return tx.payload.AddEvent(body, e.Data) })
}

// PutObject adds a blob, commit or tree body and returns its ID.
func (tx *Tx) PutObject(kind object.Kind, body []byte) object.ID {
	id := object.Hash(kind, body)
	return tx.put(id, pending{kind: kind, body: body}, func() int { return tx.payload.AddObject(kind, body) })
}

// PutHashed adds a blob, commit or tree body whose ID the caller has
// computed, as object.Hash(kind, body), on another goroutine; the store
// does not hash it again. A wrong ID is a corrupt repository, which fsck
// reports: only callers that hashed the body themselves use this.
func (tx *Tx) PutHashed(id object.ID, kind object.Kind, body []byte) object.ID {
	return tx.put(id, pending{kind: kind, body: body}, func() int { return tx.payload.AddObject(kind, body) })
}

// PutEventHashed adds an event from its canonical body, its ID (the
// hash of the body) and its data, all computed by the caller (see
// PutHashed); the body ends in the data's hash, as object.NewEvent makes
// it. In a format 2 repository it is stored packed, without that hash
// (docs/format.md §5), where PutEvent, which takes any event, stores it
// whole.
func (tx *Tx) PutEventHashed(id object.ID, body, data []byte) object.ID {
	return tx.put(id, pending{kind: object.KindEvent, body: body, data: data}, func() int {
		if !tx.s.packed {
			return tx.payload.AddEvent(body, data)
		}
		return tx.payload.AddPackedEvent(id, body, data)
	})
}

// PutCommit adds a commit and returns its ID. In a format 2 repository it
// leaves out the IDs the entries before it give back (docs/format.md §5).
func (tx *Tx) PutCommit(c *object.Commit) object.ID {
	body := c.Encode()
	id := object.Hash(object.KindCommit, body)
	return tx.put(id, pending{kind: object.KindCommit, body: body}, func() int {
		if !tx.s.packed {
			return tx.payload.AddObject(object.KindCommit, body)
		}
		return tx.payload.AddCommit(id, c, body)
	})
}

// PutTree adds a snapshot node and returns its ID.
func (tx *Tx) PutTree(t *object.Tree) object.ID { return tx.PutObject(object.KindTree, t.Encode()) }

// Get reads an object, seeing this transaction's and its group's
// additions first.
func (tx *Tx) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	if tx.detached {
		if p, ok := tx.pending(id); ok {
			return p.kind, p.body, p.data, nil
		}
		return 0, nil, nil, fmt.Errorf("object %s: %w", id.Short(), ErrNotFound)
	}
	kind, body, data, err := tx.s.get(id)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return kind, body, data, err
	}
	if p, ok := tx.groupPending(id); ok {
		return p.kind, p.body, p.data, nil
	}
	return kind, body, data, err
}

// groupPending returns an object this transaction, or an earlier one of
// its group, added and the store has not written yet.
func (tx *Tx) groupPending(id object.ID) (pending, bool) {
	if p, ok := tx.pending(id); ok {
		return p, true
	}
	for _, other := range tx.group.txs {
		if p, ok := other.pending(id); ok {
			return p, true
		}
	}
	return pending{}, false
}

// PackLoads returns how many times the store has loaded a pack other
// than the one it held before. Only gc drops objects, and every gc, of
// this process or another, writes a pack numbered past the last, which
// the store loads before its next transaction. So an object held at one
// count is still held while the count is the same.
func (tx *Tx) PackLoads() uint64 { return tx.s.packLoads }

// Has reports whether an object is stored, or added by this transaction
// or its group, without reading it: where an index or the pack's index
// lists it.
func (tx *Tx) Has(id object.ID) bool {
	if _, ok := tx.pending(id); ok {
		return true
	}
	if tx.detached {
		return false
	}
	for _, other := range tx.group.txs {
		if _, ok := other.pending(id); ok {
			return true
		}
	}
	if _, ok := tx.s.lookup(id); ok {
		return true
	}
	return tx.s.packIdx != nil && len(tx.s.packIdx.Candidates(id)) > 0
}

// Ref returns a ref's value as this transaction sees it.
func (tx *Tx) Ref(name string) (refs.Value, bool) {
	for _, m := range []map[string]*refs.Value{tx.refs, tx.group.refs} {
		if v, ok := m[name]; ok {
			if v == nil {
				return refs.Value{}, false
			}
			return *v, true
		}
	}
	if tx.detached {
		return refs.Value{}, false
	}
	return tx.s.refs.Get(name)
}

// RefNames returns the names of the refs under prefix that this
// transaction sees, sorted.
func (tx *Tx) RefNames(prefix string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !strings.HasPrefix(name, prefix) || seen[name] {
			return
		}
		seen[name] = true
		if _, ok := tx.Ref(name); ok {
			out = append(out, name)
		}
	}
	for name := range tx.refs {
		add(name)
	}
	for name := range tx.group.refs {
		add(name)
	}
	if !tx.detached {
		for name := range tx.s.refs.All() {
			add(name)
		}
	}
	slices.Sort(out)
	return out
}

// Resolve follows symbolic refs as this transaction sees them.
func (tx *Tx) Resolve(name string) (id object.ID, target string, ok bool) {
	for range 5 {
		v, found := tx.Ref(name)
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

// UpdateRef moves a ref if it still holds u.Old (ZeroID: must not exist),
// recording the move in the reflog; ErrConflict otherwise.
func (tx *Tx) UpdateRef(u refs.Update) error {
	if _, moved := tx.refs[u.Name]; tx.detached && !moved {
		// Checked when the transaction is written.
		tx.expect[u.Name] = u.Old
	} else if err := tx.checkRef(u.Name, u.Old); err != nil {
		return err
	}
	if u.Delete {
		tx.refs[u.Name] = nil
	} else {
		tx.refs[u.Name] = &refs.Value{ID: u.New}
	}
	key := []byte(u.Name)
	tx.recs = append(tx.recs, pack.Record{Kind: RecRef, Key: key, Value: u.Encode()})
	tx.payload.AddRecord(RecRef, key, tx.recs[len(tx.recs)-1].Value)
	// As in Git, HEAD's reflog records its own moves and those of the
	// branch it is on.
	if !u.Delete && (u.Name == refs.HEAD || tx.headOn(u.Name)) {
		tx.LogHead(u)
	}
	return nil
}

// LogHead adds an entry to HEAD's reflog (RecHeadLog), which moves
// nothing: UpdateRef adds one for each move of HEAD or of its branch, and
// a checkout that attaches HEAD adds its own. The entry's time is when
// it is made (for an import's batch, when the batch is built), as Git's
// are, whatever the time of the move (a commit's).
func (tx *Tx) LogHead(u refs.Update) {
	u.Name, u.Delete, u.Time = refs.HEAD, false, time.Now().UTC().Truncate(time.Second)
	v := u.Encode()
	tx.recs = append(tx.recs, pack.Record{Kind: RecHeadLog, Key: []byte(refs.HEAD), Value: v})
	tx.payload.AddRecord(RecHeadLog, []byte(refs.HEAD), v)
}

// AssumeHead declares, for a detached transaction, whether HEAD points at
// branch: its moves of branch go into HEAD's reflog when it does, and it
// is written only while that still holds (ErrConflict otherwise).
func (tx *Tx) AssumeHead(branch string, on bool) {
	tx.headAt, tx.headOnAt = branch, on
}

// headOn reports whether HEAD points at the branch, as this transaction
// sees it; a detached one knows only what it assumed.
func (tx *Tx) headOn(branch string) bool {
	if tx.detached {
		return tx.headAt == branch && tx.headOnAt
	}
	v, ok := tx.Ref(refs.HEAD)
	return ok && v.Symbolic == branch
}

// checkRef reports ErrConflict unless a ref holds old (ZeroID: does not
// exist) as this transaction sees it.
func (tx *Tx) checkRef(name string, old object.ID) error {
	cur, ok := tx.Ref(name)
	if cur.IsSymbolic() {
		return fmt.Errorf("ref %s is symbolic", name)
	}
	if (ok && cur.ID != old) || (!ok && !old.IsZero()) {
		return fmt.Errorf("%w: %s is at %s, expected %s", refs.ErrConflict, name, shortOrNone(cur.ID, ok), shortOrNone(old, !old.IsZero()))
	}
	return nil
}

func shortOrNone(id object.ID, ok bool) string {
	if !ok {
		return "nothing"
	}
	return id.Short()
}

// SetSymbolic points a ref (HEAD) at another ref, or detaches it when
// target is empty (a RecRef for the ref should follow to set its ID).
func (tx *Tx) SetSymbolic(name, target string) {
	if target == "" {
		id, _, _ := tx.Resolve(name)
		tx.refs[name] = &refs.Value{ID: id}
	} else {
		tx.refs[name] = &refs.Value{Symbolic: target}
	}
	tx.recs = append(tx.recs, pack.Record{Kind: RecSymref, Key: []byte(name), Value: []byte(target)})
	tx.payload.AddRecord(RecSymref, []byte(name), []byte(target))
}

// Idempotency looks up a key as this transaction sees it.
func (tx *Tx) Idempotency(branch, key string) (commit, digest object.ID, ok bool, err error) {
	k := string(IdemKey(branch, key))
	for _, m := range []map[string][][]byte{tx.idem, tx.group.idem} {
		if vs := m[k]; len(vs) > 0 {
			v := vs[len(vs)-1]
			return object.ID(v[:32]), object.ID(v[32:]), true, nil
		}
	}
	if tx.detached {
		return object.ZeroID, object.ZeroID, false, nil
	}
	return tx.s.idempotency(branch, key)
}

// IdempotencyAll returns every use of a key on a branch as this
// transaction sees it, newest first: its own, its group's, then the
// store's.
func (tx *Tx) IdempotencyAll(branch, key string) ([]IdemUse, error) {
	k := string(IdemKey(branch, key))
	var out []IdemUse
	for _, m := range []map[string][][]byte{tx.idem, tx.group.idem} {
		for _, v := range slices.Backward(m[k]) {
			out = append(out, IdemUse{object.ID(v[:32]), object.ID(v[32:])})
		}
	}
	if tx.detached {
		return out, nil
	}
	stored, err := tx.s.idempotencyAll(branch, key)
	if err != nil {
		return nil, err
	}
	slices.Reverse(stored)
	return append(out, stored...), nil
}

// BranchIdem reports whether any idempotency key is recorded under a
// branch, as this transaction sees it. Only builds before session 15
// recorded keys so (IdemKey with a branch); a lookup of a key under every
// branch is needed only then, and a repository with thousands of
// branches paid one per branch for every new key (a helper's audit: 13 ms
// a keyed commit with 5,000 branches).
func (tx *Tx) BranchIdem() (bool, error) {
	if tx.branchIdem || tx.group.branchIdem {
		return true, nil
	}
	if tx.detached {
		return false, nil
	}
	return tx.s.branchIdem()
}

// PutIdempotency records that a commit used an idempotency key.
func (tx *Tx) PutIdempotency(branch, key string, commit, digest object.ID) {
	tx.branchIdem = tx.branchIdem || branch != ""
	k := IdemKey(branch, key)
	v := append(append(make([]byte, 0, 64), commit[:]...), digest[:]...)
	tx.idem[string(k)] = append(tx.idem[string(k)], v)
	tx.recs = append(tx.recs, pack.Record{Kind: RecIdem, Key: k, Value: v})
	tx.payload.AddRecord(RecIdem, k, v)
}

// PutSnapshot records a snapshot tree against a commit and model.
func (tx *Tx) PutSnapshot(commit, model, tree object.ID) {
	k := SnapshotKey(commit, model)
	tx.snaps[string(k)] = tree
	tx.recs = append(tx.recs, pack.Record{Kind: RecSnapshot, Key: k, Value: tree[:]})
	tx.payload.AddRecord(RecSnapshot, k, tree[:])
}

// Snapshot looks up a snapshot as this transaction sees it.
func (tx *Tx) Snapshot(commit, model object.ID) (object.ID, bool, error) {
	k := string(SnapshotKey(commit, model))
	for _, m := range []map[string]object.ID{tx.snaps, tx.group.snaps} {
		if v, ok := m[k]; ok {
			return v, true, nil
		}
	}
	if tx.detached {
		return object.ZeroID, false, nil
	}
	v, ok, err := tx.s.latestRecord(RecSnapshot, []byte(k))
	if err != nil || !ok || len(v) != object.IDSize {
		return object.ZeroID, false, err
	}
	return object.ID(v), true, nil
}

// PutLink records a commit's skip link.
func (tx *Tx) PutLink(commit object.ID, l Link) {
	v := l.encode()
	tx.links[commit] = v
	tx.recs = append(tx.recs, pack.Record{Kind: RecLink, Key: commit[:], Value: v})
	tx.payload.AddRecord(RecLink, commit[:], v)
}

// Link looks up a commit's skip link as this transaction sees it.
func (tx *Tx) Link(commit object.ID) (Link, bool, error) {
	for _, m := range []map[object.ID][]byte{tx.links, tx.group.links} {
		if v, ok := m[commit]; ok {
			return decodeLink(v)
		}
	}
	if tx.detached {
		return Link{}, false, nil
	}
	return tx.s.linkLocked(commit)
}

// merge folds a successful transaction into its group.
func (tx *Tx) merge() {
	tx.group.txs = append(tx.group.txs, tx)
	for k, v := range tx.refs {
		tx.group.refs[k] = v
	}
	for k, v := range tx.idem {
		tx.group.idem[k] = append(tx.group.idem[k], v...)
	}
	tx.group.branchIdem = tx.group.branchIdem || tx.branchIdem
	for k, v := range tx.snaps {
		tx.group.snaps[k] = v
	}
	for k, v := range tx.links {
		tx.group.links[k] = v
	}
}

// groupCommit queues transactions so that one leader writes and syncs
// for all that arrive while a sync is under way.
type groupCommit struct {
	s       *Store
	mu      sync.Mutex
	queue   []*request
	leading bool
	// lockWait is the wait for the lock a leader that left handed on.
	lockMu   sync.Mutex
	lockWait *lockWait
	// Syncs counts fsyncs and Commits transactions, for benchmarks.
	syncs, commits uint64
}

type request struct {
	ctx      context.Context
	fn       func(*Tx) error
	prepared *Tx // a detached transaction to write after fn, alone in its group
	done     chan error
	lead     chan struct{} // told to lead the next group
	// state is reqPending until a group runs the request (reqRunning) or
	// its caller stops waiting for it, its context done (reqAbandoned):
	// whichever comes first, so an abandoned request never runs.
	state atomic.Int32
}

// The states of a request.
const (
	reqPending int32 = iota
	reqRunning
	reqAbandoned
)

// Update runs fn in a transaction and makes what it added durable before
// returning. If fn returns an error nothing of it is written. Transactions
// of concurrent callers share one write and one sync.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.update(&request{ctx: ctx, fn: fn})
}

// Detached returns a transaction to build without the store's lock, on
// any goroutine, for UpdatePrepared: it adds objects and records and
// moves refs, and reads only what it added itself (a ref move is checked
// when it is written).
func (s *Store) Detached() *Tx {
	tx := s.newTx(newGroupState())
	tx.detached, tx.expect = true, map[string]object.ID{}
	if b, ok := detachedPayloads.Get().(*[]byte); ok {
		tx.payload.Use(*b)
	}
	return tx
}

// The buffers of detached transactions are used again: an import builds
// one batch after another, and memory used again costs no page faults.
// A payload is done with once Seal compressed it, a frame once written.
var detachedPayloads, detachedFrames sync.Pool

// Seal compresses a detached transaction's payload now, so that writing
// it costs no compression under the lock. Nothing may be added after,
// nor read: the payload and the objects' bodies are let go, so that
// batches waiting to be written hold only their frames and their
// objects' IDs (SealedSize), which SpillFrame can set aside. A sealed
// transaction is written alone (runGroup), so no other transaction of
// its group reads them either.
func (tx *Tx) Seal() {
	var frame []byte
	if b, ok := detachedFrames.Get().(*[]byte); ok {
		frame = *b
	}
	if n := pack.FrameHeaderSize + tx.payload.Size()/2; cap(frame) < n {
		// About what the payload compresses to: one buffer, not a
		// chain of ever larger ones as the compressor appends.
		frame = make([]byte, 0, n)
	}
	tx.frame = pack.AppendFrameSplit(frame[:0], tx.payload.Bytes(), tx.payload.TreesAt())
	if cap(tx.frame) > len(tx.frame)+len(tx.frame)/4+4096 {
		// Sealed batches wait in memory until the whole input is
		// folded: each keeps a copy of its size, and the roomy
		// buffer goes to the next Seal (the banking import compresses
		// to a fifth of its payload, and its hundred frames held
		// twice what they needed).
		big := tx.frame[:0]
		tx.frame = slices.Clone(tx.frame)
		detachedFrames.Put(&big)
	}
	tx.sealed, tx.sealedN, tx.sealedSize = true, tx.payload.Len(), tx.payload.Size()
	payload := tx.payload.Bytes()[:0]
	detachedPayloads.Put(&payload)
	tx.payload = pack.Payload{}
	tx.sealedObjs = make([]sealedObj, len(tx.order))
	for i, o := range tx.order {
		tx.sealedObjs[i] = sealedObj{id: o.id, slot: uint32(o.slot)}
	}
	tx.order, tx.objs = nil, nil
}

// sealedObj is what writing needs of a sealed transaction's object.
type sealedObj struct {
	id   object.ID
	slot uint32
}

// rawSize returns the bytes of the transaction's payload.
func (tx *Tx) rawSize() int {
	if tx.sealed {
		return tx.sealedSize
	}
	return tx.payload.Size()
}

// entries returns how many entries the transaction adds.
func (tx *Tx) entries() int {
	if tx.sealed {
		return tx.sealedN
	}
	return tx.payload.Len()
}

// UpdatePrepared writes a detached transaction in a group of its own:
// under the lock it runs check on a transaction that reads the store and
// adds nothing (an error stops the write and is returned), checks that
// every ref the transaction moves still holds the value it moved it from
// (ErrConflict otherwise), and writes the transaction, durably, with one
// sync. A frame set aside (SpillFrame) is read back first, before the
// lock is taken; one that reads back other than it was written is an
// error, and nothing is written.
func (s *Store) UpdatePrepared(ctx context.Context, prepared *Tx, check func(*Tx) error) error {
	if !prepared.detached {
		return errors.New("store: UpdatePrepared of a transaction that is not detached")
	}
	if err := prepared.unspill(); err != nil {
		return err
	}
	return s.update(&request{ctx: ctx, fn: check, prepared: prepared})
}

func (s *Store) update(req *request) error {
	ctx := req.ctx
	if err := ctxErr(ctx); err != nil {
		return err
	}
	req.done, req.lead = make(chan error, 1), make(chan struct{}, 1)
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if !g.leading {
		g.leading = true
		g.mu.Unlock()
		s.leadGroup(req)
		return <-req.done
	}
	g.mu.Unlock()
	var cancelled <-chan struct{}
	if ctx != nil {
		cancelled = ctx.Done()
	}
	select {
	case err := <-req.done:
		return err
	case <-req.lead:
		s.leadGroup(req)
		return <-req.done
	case <-cancelled:
		if s.abandon(req) {
			return ctx.Err()
		}
		return <-req.done // a group runs it already: its result comes
	}
}

// abandon takes a request its caller no longer waits for out of the
// queue, handing on the lead if it was just given it, unless a group
// runs it already: then it reports false.
func (s *Store) abandon(req *request) bool {
	if !req.state.CompareAndSwap(reqPending, reqAbandoned) {
		return false
	}
	g := &s.group
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.queue, req); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
	}
	select {
	case <-req.lead:
		if len(g.queue) > 0 {
			g.queue[0].lead <- struct{}{}
		} else {
			g.leading = false
		}
	default:
	}
	return true
}

// leadGroup runs the queued transactions as one group, then hands the
// lead to the first request queued meanwhile and returns, so its own
// caller can queue its next transaction while that group syncs: with two
// writers, each group then carries both. own is the leader's request. A
// leader whose context ends while another process holds the repository's
// lock leaves, and the rest of its group waits under the next leader.
func (s *Store) leadGroup(own *request) {
	g := &s.group
	g.mu.Lock()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		if len(g.queue) > 0 {
			g.queue[0].lead <- struct{}{}
		} else {
			g.leading = false
		}
		g.mu.Unlock()
	}()
	if err := s.lockFor(own); err != nil {
		if !errors.Is(err, errLeft) {
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		own.state.Store(reqAbandoned)
		own.done <- ctxErr(own.ctx)
		// Under g.mu: a request that abandons after this finds itself
		// back in the queue and takes itself out (abandon takes g.mu
		// after its state changed); one filtered out here has left.
		g.mu.Lock()
		rest := make([]*request, 0, len(batch)+len(g.queue))
		for _, r := range batch {
			if r != own && r.state.Load() == reqPending {
				rest = append(rest, r)
			}
		}
		g.queue = append(rest, g.queue...)
		g.mu.Unlock()
		return
	}
	defer s.lock.unlock()
	s.runGroup(batch)
}

// errLeft says a leader's context ended while it waited for the lock.
var errLeft = errors.New("store: the leader's context ended")

// lockFor takes the repository's lock for a group that own leads. A
// leader whose context cannot end (context.Background()) waits in the
// kernel. One whose context can end waits for a goroutine that waits in
// the kernel (waitForLock), so that it can leave when its context ends (errLeft)
// while keeping its place: the next leader takes over that wait, and a
// wait no leader wants any longer lets the lock go as soon as it has it.
// Either way the lock goes to whoever the kernel wakes first, as it did
// when every writer waited in the kernel itself.
func (s *Store) lockFor(own *request) error { return s.lockCtx(own.ctx, true) }

// lockCtx takes the repository's lock as lockFor describes, giving up
// with errLeft when ctx ends. shared is for group leaders, one at a time,
// which take over each other's wait; any other caller (gc) waits on its
// own.
func (s *Store) lockCtx(ctx context.Context, shared bool) error {
	var cancelled <-chan struct{}
	if ctx != nil {
		cancelled = ctx.Done()
	}
	if cancelled == nil {
		return s.lock.lock()
	}
	if ok, err := s.lock.tryLockNow(); ok || err != nil {
		return err
	}
	if ctxErr(ctx) != nil {
		return errLeft // given the lead as its context ended: no wait to start
	}
	g := &s.group
	g.lockMu.Lock()
	var w *lockWait
	if shared {
		w = g.lockWait
	}
	if w == nil {
		w = &lockWait{done: make(chan struct{})}
		if shared {
			g.lockWait = w
		}
		go func() {
			err := s.waitForLock()
			g.lockMu.Lock()
			defer g.lockMu.Unlock()
			if g.lockWait == w {
				g.lockWait = nil
			}
			if w.unwanted && err == nil {
				s.lock.unlock()
				err = errLeft
			}
			w.err = err
			close(w.done)
		}()
	}
	w.unwanted = false // this leader wants it
	g.lockMu.Unlock()
	select {
	case <-w.done:
		return w.err
	case <-cancelled:
	}
	g.lockMu.Lock()
	defer g.lockMu.Unlock()
	select {
	case <-w.done: // it came as the context ended
		if w.err == nil {
			s.lock.unlock()
		}
	default:
		w.unwanted = true
	}
	return errLeft
}

// waitForLock takes the lock, waiting in the kernel for it to be free
// without holding the lock's in-process mutex, which Close takes: a
// process whose writer gave up closes its store at once, not once
// another process lets the lock go (a helper's stress run).
// Its caller tried the lock already.
func (s *Store) waitForLock() error {
	for {
		if err := s.lock.waitFree(); err != nil {
			return err
		}
		if ok, err := s.lock.tryLockNow(); ok || err != nil {
			return err
		}
		// Free, but taken first, by a process or a goroutine of this
		// one (which lets mu go just after the file): a moment, then
		// wait again.
		time.Sleep(50 * time.Microsecond)
	}
}

// lockWait is a wait for the repository's lock on a goroutine of its
// own (lockFor); groupCommit.lockMu guards it.
type lockWait struct {
	done     chan struct{} // closed once err is set
	err      error
	unwanted bool // no leader waits for it: let the lock go at once
}

// SyncStats returns how many syncs and transactions the store made.
func (s *Store) SyncStats() (syncs, commits uint64) {
	g := &s.group
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.syncs, g.commits
}

// runGroup runs a group's transactions, the lock held. The tables catch
// up with other processes under s.mu held for writing; the transactions'
// functions then run with s.mu held only for reading, so that this
// process's reads go on beside them (an import checks its whole input in
// one function), and each write of the group takes it for writing.
// Nothing else changes the tables meanwhile: other processes wait for the
// lock, and so do this process's other writers (for their turn in the
// queue), a gc and a seal's publication (for the lock), and Close.
func (s *Store) runGroup(batch []*request) {
	fail := func(err error) {
		for _, r := range batch {
			r.done <- err
		}
	}
	s.refreshMu.Lock()
	s.mu.Lock()
	if err := s.refresh(true); err != nil {
		s.mu.Unlock()
		s.refreshMu.Unlock()
		fail(err)
		return
	}
	if s.writableSeg != s.last {
		s.mu.Unlock()
		s.refreshMu.Unlock()
		fail(cannotWrite(fmt.Sprintf("segment %d", s.last), "could not be opened for writing", s.lock.why))
		return
	}
	s.current.Store(true)
	defer s.current.Store(false)
	s.mu.Unlock()
	s.mu.RLock()
	s.refreshMu.Unlock()
	defer s.mu.RUnlock()
	// A prepared transaction is written alone: its frame is compressed
	// already, and one frame holds one group.
	for len(batch) > 0 {
		n := 1
		for batch[0].prepared == nil && n < len(batch) && batch[n].prepared == nil {
			n++
		}
		if s.broken != nil {
			for _, r := range batch {
				r.done <- s.broken
			}
			return
		}
		s.runTxs(batch[:n])
		batch = batch[n:]
	}
}

// runTxs runs a group's transactions and writes them; the lock is held,
// and s.mu for reading.
func (s *Store) runTxs(batch []*request) {
	g := newGroupState()
	var txs []*Tx
	var ok []*request
	size := 0 // the payload bytes of txs
	for i, r := range batch {
		if !r.state.CompareAndSwap(reqPending, reqRunning) {
			continue // its caller left
		}
		if err := ctxErr(r.ctx); err != nil {
			r.done <- err
			continue
		}
		tx := s.newTx(g)
		if err := runFn(r.fn, tx); err != nil {
			r.done <- err
			continue
		}
		if p := r.prepared; p != nil {
			if err := p.checkExpected(tx); err != nil {
				r.done <- err
				continue
			}
			p.group, tx = g, p
		}
		if tx.entries() == 0 {
			r.done <- nil
			continue
		}
		// A frame holds at most pack.MaxFramePayload bytes, which a
		// reader checks: a transaction larger is refused, and a group
		// that would pass it is written in more than one frame.
		n := tx.rawSize()
		if n > maxTxPayload {
			r.done <- fmt.Errorf("%w: it holds %.1f MiB, and a transaction may hold at most %.1f MiB", ErrTooLarge, float64(n)/(1<<20), float64(maxTxPayload)/(1<<20))
			continue
		}
		if size+n > maxTxPayload {
			if !s.writeGroup(txs, ok, batch[i:]) {
				return
			}
			txs, ok, size = nil, nil, 0
		}
		tx.merge()
		txs = append(txs, tx)
		ok = append(ok, r)
		size += n
	}
	s.writeGroup(txs, ok, nil)
}

// maxTxPayload is the most payload bytes a frame is written with: what
// a reader accepts, less room for the frame's own bytes. A variable so
// tests can lower it.
var maxTxPayload = pack.MaxFramePayload - 1<<20

// writeGroup writes transactions as one frame and tells their requests;
// when the write fails, the store is broken and the requests of rest
// (not yet run) are told so too. It reports whether the write succeeded.
// The caller holds s.mu for reading, which writeGroup holds for writing
// while it writes and takes the frame into the tables.
func (s *Store) writeGroup(txs []*Tx, ok, rest []*request) bool {
	if len(txs) == 0 {
		return true
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		s.mu.RLock()
	}()
	if err := s.write(txs); err != nil {
		s.broken = fmt.Errorf("%w: %v", ErrBroken, err)
		for _, r := range ok {
			r.done <- fmt.Errorf("write failed: %w", err)
		}
		for _, r := range rest {
			r.done <- s.broken
		}
		return false
	}
	s.group.mu.Lock()
	s.group.syncs++
	s.group.commits += uint64(len(txs))
	s.group.mu.Unlock()
	for _, r := range ok {
		r.done <- nil
	}
	if err := s.maybeSeal(); err != nil {
		s.broken = fmt.Errorf("%w: sealing: %v", ErrBroken, err)
	}
	return true
}

// write appends the group's transactions as one frame, syncs once, and
// takes them into memory. One frame, not one per transaction: a crash can
// then tear only the last frame, never leave a damaged frame before a
// whole one, and none of the group was acknowledged before the sync.
func (s *Store) write(txs []*Tx) error {
	seg := s.segs[s.last]
	// A sealed transaction is written alone, in the frame Seal made.
	sealed := txs[0].sealed
	if sealed && (len(txs) > 1 || txs[0].payload.Len() > 0) {
		return errors.New("store: a sealed transaction is written alone, with nothing added after Seal")
	}
	var payload []byte
	frame := txs[0].frame
	bases := make([]int, len(txs))
	slot := 0
	for i, tx := range txs {
		bases[i] = slot
		slot += tx.entries()
		if len(txs) == 1 {
			payload = tx.payload.Bytes()
		} else {
			payload = append(payload, tx.payload.Bytes()...)
		}
	}
	if !sealed {
		// The group's payload starts with its first transaction's, whose
		// start may be compressed already.
		if tx := txs[0]; len(tx.ahead) > 0 {
			frame = pack.AppendFrameAhead(nil, payload, tx.compressedAhead())
		} else {
			frame = pack.AppendFrame(nil, payload, false)
		}
	}
	end := seg.Size()
	off, err := seg.Append(frame)
	if err == nil {
		err = seg.Sync()
	}
	if err != nil {
		// The write is reported as failed: take back what of it reached
		// the file (a disk that filled up took half a frame), so that
		// the next open does not cut it as a crash's torn tail, which
		// needs room in lost-found. Best effort: the store is broken
		// either way, and a tail left is cut then.
		_ = seg.CutTo(end)
		return err
	}
	if size, crc, ok := pack.LastFrameHeader(frame); ok {
		s.lock.setMark(s.last, seg.Size(), size, crc)
	}
	if off > 1<<32-1 {
		return fmt.Errorf("segment %d passed 4 GiB", s.last)
	}
	// A sealed transaction is an import's batch, which nobody reads soon:
	// its frame is not cached, and its buffer serves the next.
	if !sealed {
		entries, err := pack.ParseEntries(payload)
		if err != nil {
			return err
		}
		s.cache.Put(pack.FrameKey{Seg: s.last, Off: uint32(off)}, pack.NewFrame(entries, len(payload)))
	}
	for i, tx := range txs {
		// An object written again is found at its newest copy: either
		// serves, and one map operation an object is cheaper than two.
		for _, o := range tx.order {
			s.addMem(o.id, pack.Location{Seg: s.last, Off: uint32(off), Slot: uint32(bases[i] + o.slot)})
		}
		for _, o := range tx.sealedObjs {
			s.addMem(o.id, pack.Location{Seg: s.last, Off: uint32(off), Slot: uint32(bases[i]) + o.slot})
		}
		for _, r := range tx.recs {
			s.addMemRecord(r)
			if err := s.applyRefRecord(r.Kind, r.Key, r.Value); err != nil {
				return err
			}
		}
	}
	s.scanned = seg.Size()
	if sealed {
		frame = frame[:0]
		detachedFrames.Put(&frame)
		txs[0].frame = nil
	}
	return nil
}

// checkExpected checks, as rtx sees the refs, that every ref a detached
// transaction moves still holds the value it moved it from.
func (tx *Tx) checkExpected(rtx *Tx) error {
	for name, old := range tx.expect {
		if err := rtx.checkRef(name, old); err != nil {
			return err
		}
	}
	if tx.headAt != "" && rtx.headOn(tx.headAt) != tx.headOnAt {
		return fmt.Errorf("%w: HEAD moved onto or off %s since the transaction was prepared", refs.ErrConflict, tx.headAt)
	}
	return nil
}

// runFn runs a transaction's function, turning a panic into an error so
// one bad caller cannot stop the group or leave the lock held.
func runFn(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("transaction panicked: %v", p)
		}
	}()
	return fn(tx)
}
