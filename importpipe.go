package evgit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/snapshot"
)

// An import keeps both cores busy. While it checks its input, one
// goroutine parses the input and encodes and hashes its events ahead of
// the fold, which runs on the import's own goroutine, a third builds the
// snapshot trees from the states the fold hands it, and a fourth builds
// and compresses each batch the fold is through with (the preparer in
// import.go). The batches are written once the input is through. Only
// the fold and the commit chain are sequential by nature
// (docs/design.md §12).

// rawChunkBytes is the size of a buffer of lines as read: about a chunk
// of banking events. A longer line gets a buffer of its own size.
const rawChunkBytes = 160 << 10

// parseChunkLines is how many parsed lines travel together from the
// parsing goroutine to the fold.
const parseChunkLines = 1024

type parsedChunk struct {
	lines []InputLine
	err   error
}

// encodedEvent is an event encoded and hashed ahead of its commit, under
// the assumptions its commit checks before using it: the schema the
// model gave and the commit actor the meta was completed for.
type encodedEvent struct {
	id     object.ID
	body   []byte
	schema int
	actor  string
}

var errParseStopped = errors.New("import: parsing stopped")

// parseAhead parses NDJSON on its own goroutine and sends the lines in
// chunks, then one chunk with the error if a line is bad. Events whose
// meta already holds the time, and the actor when there is a commit
// actor, are encoded and hashed there too. stop ends the goroutine early,
// and so does cancelling ctx: it reads no more after either.
func parseAhead(ctx context.Context, in io.Reader, mdl *model.Model, dflt string) (chunks <-chan parsedChunk, stop func()) {
	actor := dflt
	ch := make(chan parsedChunk, 8)
	done := make(chan struct{})
	send := func(c parsedChunk) bool {
		select {
		case ch <- c:
			return true
		case <-done:
			return false
		}
	}
	go func() {
		defer close(ch)
		defer func() {
			// A panic here is an error for the caller, not a crash of
			// its program on a goroutine it cannot reach.
			if p := recover(); p != nil {
				send(parsedChunk{err: fmt.Errorf("parsing the input panicked (a bug in evgit): %v", p)})
			}
		}()
		chunk := newLines()
		// The lines as read, kept for a batch that must be read again
		// (importBatchSpan.commits). Batches keep slices of these
		// buffers, so a full one is never grown (the lines already in it
		// would keep the old array alive beside the new): a line that
		// does not fit starts a new one.
		var raw []byte
		var rd io.Reader // nil stays nil: scanRaw refuses it
		if in != nil {
			rd = stoppableReader{safeReader{in}, done, ctx}
		}
		err := scanRaw(rd, func(n int, b []byte) error {
			l, err := parseImportLine(b, mdl, &actor, dflt)
			if err != nil {
				return invalidf("line %d: %v", n, err)
			}
			l.Line = n
			if cap(raw)-len(raw) < len(b)+1 {
				raw = make([]byte, 0, max(rawChunkBytes, len(b)+1))
			}
			start := len(raw)
			raw = append(append(raw, b...), '\n')
			l.raw = raw[start:len(raw):len(raw)]
			chunk = append(chunk, l)
			if len(chunk) == parseChunkLines {
				if !send(parsedChunk{lines: chunk}) {
					return errParseStopped
				}
				chunk = newLines()
			}
			return nil
		})
		switch {
		case errors.Is(err, errParseStopped):
		case err != nil:
			send(parsedChunk{err: err})
		case len(chunk) > 0:
			send(parsedChunk{lines: chunk})
		}
	}()
	return ch, sync.OnceFunc(func() { close(done) })
}

// A chunk's lines, once the fold has copied them into its commits, serve
// the parser again.
var linesPool sync.Pool

func newLines() []InputLine {
	if p, ok := linesPool.Get().(*[]InputLine); ok {
		return (*p)[:0]
	}
	return make([]InputLine, 0, parseChunkLines)
}

func recycleLines(lines []InputLine) {
	clear(lines)
	lines = lines[:0]
	linesPool.Put(&lines)
}

// parseImportLine parses an import's line and encodes its event ahead
// when it may. actor is the commit actor of the lines so far, which a
// commit header changes for the lines after it.
func parseImportLine(b []byte, mdl *model.Model, actor *string, dflt string) (InputLine, error) {
	l, err := parseLine(b, true)
	if err != nil {
		return l, err
	}
	if l.Commit != nil {
		// The lines after a header belong to its commit.
		*actor = dflt
		if l.Commit.HasActor() {
			*actor = l.Commit.Actor
		}
	}
	l.enc = encodeAhead(&l.Event, l.data, mdl, *actor)
	return l, nil
}

// encodeAhead encodes an event whose body does not depend on its commit,
// or returns nil.
func encodeAhead(in *EventInput, data []byte, mdl *model.Model, actor string) *encodedEvent {
	if in.Meta["time"] == "" || (in.Meta["actor"] == "" && actor != "") {
		return nil
	}
	schema := in.Schema
	if schema == 0 {
		schema = mdl.LatestSchema(in.Type)
	}
	body := object.NewEvent(in.Stream, in.Type, schema, in.Meta, data).Encode()
	return &encodedEvent{id: object.Hash(object.KindEvent, body), body: body, schema: schema, actor: actor}
}

// hashedObject is an object with the ID computed where it was made.
type hashedObject struct {
	id   object.ID
	kind object.Kind
	body []byte
}

// treeSink keeps the nodes and blobs a snapshot builder writes, for the
// builder to read back, and lists those of the snapshot being built.
// Builders never read the store: an import's runs beside the
// transactions that lock it, a commit's snapshot job after its own
// transaction (it reads the nodes pinned for it).
type treeSink struct {
	objs map[object.ID]hashedObject
	cur  []hashedObject
}

// PutObject keeps a new object and lists it for the current snapshot.
func (s *treeSink) PutObject(kind object.Kind, body []byte) object.ID {
	id := object.Hash(kind, body)
	if _, ok := s.objs[id]; !ok {
		o := hashedObject{id: id, kind: kind, body: body}
		s.objs[id] = o
		s.cur = append(s.cur, o)
	}
	return id
}

// bytes returns the payload room the current snapshot's objects take.
func (s *treeSink) bytes() int {
	n := 0
	for _, o := range s.cur {
		n += len(o.body) + 8
	}
	return n
}

// Get returns an object the sink holds.
func (s *treeSink) Get(id object.ID) (object.Kind, []byte, []byte, error) {
	if o, ok := s.objs[id]; ok {
		return o.kind, o.body, nil, nil
	}
	return 0, nil, nil, fmt.Errorf("snapshot node %s: %w", id.Short(), ErrNotFound)
}

// keepOnly drops the objects that the tree at root, just built on the
// tree at old, does not hold: a builder reads only nodes of the tree it
// builds on, so an import keeps one tree in memory, not all it wrote.
// It walks only what the update replaced: from old down, stopping at
// every node the new nodes (s.cur) or root name, below which the two
// trees share everything. Blobs go too: the builder reads nodes only;
// and new nodes nothing names.
func (s *treeSink) keepOnly(old, root object.ID) {
	named := map[object.ID]bool{root: true}
	for _, o := range s.cur {
		if o.kind == object.KindTree {
			children, _ := innerChildren(o.body)
			for _, c := range children {
				named[c] = true
			}
		}
	}
	var drop func(id object.ID)
	drop = func(id object.ID) {
		o, ok := s.objs[id]
		if !ok || named[id] {
			return
		}
		delete(s.objs, id)
		children, _ := innerChildren(o.body)
		for _, c := range children {
			drop(c)
		}
	}
	drop(old)
	for _, o := range s.cur {
		if o.kind != object.KindTree || !named[o.id] {
			delete(s.objs, o.id) // a blob, or a node the tree did not keep
		}
	}
}

// preload copies the nodes of the tree at root (not its blobs: the
// builder only reads nodes) from rd into the sink.
func (s *treeSink) preload(rd reader, id object.ID) error {
	kind, body, _, err := rd.Get(id)
	if err != nil {
		return err
	}
	if kind != object.KindTree {
		return fmt.Errorf("%w: snapshot node %s is %s", ErrCorrupt, id.Short(), kind.WithArticle())
	}
	s.objs[id] = hashedObject{id: id, kind: kind, body: body}
	children, err := innerChildren(body)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := s.preload(rd, c); err != nil {
			return err
		}
	}
	return nil
}

// innerChildren returns the children of a tree node body, none for a
// leaf (told by the node's kind byte, without decoding its entries).
func innerChildren(body []byte) ([]object.ID, error) {
	if len(body) < 2 || body[1] != 1 { // object.Tree's layout: format, kind
		return nil, nil
	}
	t, err := object.DecodeTree(body)
	if err != nil {
		return nil, err
	}
	var out []object.ID
	for _, c := range t.Children {
		if !c.IsZero() {
			out = append(out, c)
		}
	}
	return out, nil
}

// builtSnapshot is a snapshot tree ready to record at the boundary
// commit of offset: its root and the objects new in it.
type builtSnapshot struct {
	offset uint64
	root   object.ID
	objs   []hashedObject
	err    error
}

// snapBuilder builds an import's snapshot trees on its own goroutine.
// The fold pushes every boundary's changed states; the builder keeps
// the boundaries whose offset crosses a multiple of spacing events, and
// the last one (the dropped ones' changes go into the next kept one),
// and sends the trees, in order, to the batches that write the boundary
// commits. Trees depend on states, not on commit IDs, so they need not
// wait for the commits.
type snapBuilder struct {
	w       *snapshot.Writer
	sink    *treeSink
	start   uint64 // the offset the import starts from
	spacing uint64
	queue   *queue[plannedSnapshot]

	out      chan builtSnapshot
	done     chan struct{}
	stopOnce sync.Once
}

// importTreeCache is how many decoded nodes an import's builder keeps
// (twice that at most): a few snapshots' worth on a tree of 10,000
// streams. The builder reads nodes it made, from its sink; the shared
// cache of the repository would keep every snapshot's leaves, tens of
// megabytes nobody reads again.
const importTreeCache = 1024

// plannedSnapshot is one boundary the fold passed: the streams changed
// since the previous boundary with their states.
type plannedSnapshot struct {
	offset  uint64
	changes []snapshot.Change
}

// newSnapBuilder starts a builder on the tree at root, which it reads
// from rd first (nothing to read for an empty tree).
func (r *Repository) newSnapBuilder(rd reader, root object.ID, start, spacing uint64) (*snapBuilder, error) {
	sink := &treeSink{objs: map[object.ID]hashedObject{}}
	if !root.IsZero() && root != snapshot.EmptyRoot {
		if err := sink.preload(rd, root); err != nil {
			return nil, err
		}
	}
	b := &snapBuilder{
		w:       snapshot.NewWriter(sink, sink, snapshot.NewCache(importTreeCache)),
		sink:    sink,
		start:   start,
		spacing: max(spacing, 1),
		queue:   newQueue[plannedSnapshot](),
		out:     make(chan builtSnapshot, 16),
		done:    make(chan struct{}),
	}
	if root.IsZero() {
		root = snapshot.EmptyRoot
	}
	go b.run(root)
	return b, nil
}

// push hands the builder a boundary's changes.
func (b *snapBuilder) push(p plannedSnapshot) { b.queue.push(p) }

// close says no boundary follows.
func (b *snapBuilder) close() { b.queue.close() }

// stop ends the builder whatever it is doing; what it built is dropped.
func (b *snapBuilder) stop() {
	b.stopOnce.Do(func() {
		close(b.done)
		b.queue.drop()
	})
}

func (b *snapBuilder) pop() (plannedSnapshot, bool) { return b.queue.pop() }

// queue is a FIFO from one goroutine to another. Unbounded, pushing
// never waits, so a producer never waits on a consumer that may be
// waiting on it in turn. Bounded (bound), pushing waits while the queue
// holds its limit, unless the consumer waits on a third goroutine that
// waits on the producer: the consumer says when it waits there
// (starve), and the bound's idle says whether the third waits too.
type queue[T any] struct {
	mu      sync.Mutex
	cond    sync.Cond
	items   []T
	closed  bool
	dropped bool
	// Bounded: held is what the items weigh, by sizeOf; starved, that
	// the consumer waits elsewhere.
	limit   int
	held    int
	sizeOf  func(T) int
	idle    func() bool
	starved bool
	peak    int // the most held
	// waiting: the consumer waits in pop; onWait is called, without
	// the lock, when it starts to.
	waiting bool
	onWait  func()
}

func newQueue[T any]() *queue[T] {
	q := &queue[T]{}
	q.cond.L = &q.mu
	return q
}

// bound makes push wait while the items weigh limit or more, as sizeOf
// weighs them, unless the consumer is starved and idle says the
// goroutine it waits on waits too. idle is called with the queue's lock
// held; it may take the other queue's lock, never the reverse. Call it
// before the queue is used.
func (q *queue[T]) bound(limit int, sizeOf func(T) int, idle func() bool) {
	q.limit, q.sizeOf, q.idle = limit, sizeOf, idle
}

// push adds v at the end, first waiting for room in a bounded queue;
// after drop it is discarded.
func (q *queue[T]) push(v T) {
	q.mu.Lock()
	for q.sizeOf != nil && q.held >= q.limit && !q.closed && !(q.starved && q.idle()) {
		q.cond.Wait()
	}
	if !q.dropped {
		q.items = append(q.items, v)
		if q.sizeOf != nil {
			q.held += q.sizeOf(v)
			q.peak = max(q.peak, q.held)
		}
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// starve tells a bounded queue that its consumer waits, or no longer
// waits, on something that may need the producer to go on.
func (q *queue[T]) starve(on bool) {
	q.mu.Lock()
	q.starved = on
	q.mu.Unlock()
	q.cond.Broadcast()
}

// wake wakes a producer waiting in push to look again (the goroutine
// idle asks about has come to wait). It takes the lock, so a producer
// about to wait cannot miss it.
func (q *queue[T]) wake() {
	q.mu.Lock()
	q.mu.Unlock()
	q.cond.Broadcast()
}

// isWaiting reports whether the consumer waits in pop for an item that
// has not come yet.
func (q *queue[T]) isWaiting() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.waiting && len(q.items) == 0 && !q.closed
}

// peakHeld returns the most a bounded queue's items weighed at once.
func (q *queue[T]) peakHeld() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak
}

// setOnWait sets what pop calls, without the lock, when it starts to
// wait.
func (q *queue[T]) setOnWait(f func()) {
	q.mu.Lock()
	q.onWait = f
	q.mu.Unlock()
}

// close says nothing follows: pop returns what is left, then false.
func (q *queue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// drop closes the queue and discards what it holds: pop returns false.
func (q *queue[T]) drop() {
	q.mu.Lock()
	q.closed, q.dropped = true, true
	clear(q.items)
	q.items, q.held = nil, 0
	q.mu.Unlock()
	q.cond.Broadcast()
}

// pop waits for the next item; false once the queue is closed and empty.
func (q *queue[T]) pop() (T, bool) {
	q.mu.Lock()
	defer q.cond.Broadcast() // room for a producer waiting
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.closed {
		if !q.waiting {
			q.waiting = true
			if f := q.onWait; f != nil {
				q.mu.Unlock()
				f()
				q.mu.Lock()
				continue // look again: it ran without the lock
			}
		}
		q.cond.Wait()
	}
	q.waiting = false
	var zero T
	if len(q.items) == 0 {
		return zero, false
	}
	v := q.items[0]
	q.items[0] = zero
	q.items = q.items[1:]
	if q.sizeOf != nil {
		q.held -= q.sizeOf(v)
	}
	return v, true
}

func (b *snapBuilder) run(root object.ID) {
	defer close(b.out)
	pending := map[string]snapshot.Change{}
	seen, built := 0, 0
	var last uint64
	mark := b.start / b.spacing // the multiple of spacing last crossed
	build := func() bool {
		changes := make([]snapshot.Change, 0, len(pending))
		for _, c := range pending {
			changes = append(changes, c)
		}
		clear(pending)
		built = seen
		b.sink.cur = nil
		next, err := b.w.Update(root, changes)
		s := builtSnapshot{offset: last, root: next, objs: b.sink.cur, err: err}
		if err == nil {
			b.sink.keepOnly(root, next)
		}
		root = next
		select {
		case b.out <- s:
			return err == nil
		case <-b.done:
			return false
		}
	}
	for {
		p, ok := b.pop()
		if !ok {
			break
		}
		seen++
		last = p.offset
		for _, c := range p.changes {
			pending[c.Stream] = c
		}
		if m := p.offset / b.spacing; m > mark {
			mark = m
			if !build() {
				return
			}
		}
	}
	select {
	case <-b.done:
		return
	default:
	}
	if seen > built {
		build()
	}
}

// stoppableReader reads no more once done is closed (the import stopped)
// or ctx is cancelled: a read blocked then is the last.
type stoppableReader struct {
	r    io.Reader
	done <-chan struct{}
	ctx  context.Context
}

func (s stoppableReader) Read(p []byte) (int, error) {
	select {
	case <-s.done:
		return 0, errParseStopped
	case <-s.ctx.Done():
		return 0, s.ctx.Err() // an error for the check, never an end
	default:
		return s.r.Read(p)
	}
}

// safeReader turns a panic of the reader it wraps into an error.
type safeReader struct{ r io.Reader }

func (s safeReader) Read(p []byte) (n int, err error) {
	defer func() {
		if v := recover(); v != nil {
			n, err = 0, fmt.Errorf("the reader panicked: %v", v)
		}
	}()
	return s.r.Read(p)
}
