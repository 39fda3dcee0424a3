package evgit

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zeebo/blake3"

	"github.com/evgit/evgit/model"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/refs"
	"github.com/evgit/evgit/store"
)

// AppendOptions say where and how a commit is appended.
type AppendOptions struct {
	Branch  string            // short branch name; "" means the branch HEAD names (refused, matching ErrInvalid, while HEAD is detached)
	Message string            // commit message
	Actor   string            // commit actor; events' meta.actor defaults to it; empty: none (the CLI fills in $EVGIT_ACTOR or the user's name)
	Time    time.Time         // commit time; zero means now
	Expect  map[string]uint64 // stream → version it must have (0: must not exist)
	// IdempotencyKey, when set, names the commit on its branch: a key
	// already used there with the same events makes Append return that
	// commit (Duplicate set) and add nothing; with other events, a
	// *KeyReusedError (matching ErrConflict).
	IdempotencyKey string
	// Reverts names the commits this one compensates, for a
	// compensation written by hand (Revert fills it in itself). Each
	// must be a stored commit (an error matching ErrInvalid and
	// ErrNotFound otherwise); the events are not checked against them:
	// the claim is recorded as given, and Revert then refuses those
	// commits as already reverted (*AlreadyRevertedError), once it
	// found what reverting them would write: a commit it has nothing to
	// compensate for is refused as such (ErrNoCompensation) first.
	Reverts []object.ID
}

// AppendResult describes an appended (or, for a repeated idempotency key,
// an earlier) commit. Its JSON is what `evgit commit --json` prints.
type AppendResult struct {
	// Commit is the ID of the commit appended, or of the earlier commit
	// that holds a repeated idempotency key.
	Commit object.ID `json:"commit"`
	// Branch is the short name of the branch appended to, such as "main".
	Branch string `json:"branch"`
	// Parents are the commit's parents, first parent first; empty (never
	// nil, so JSON prints []) for a root commit.
	Parents []object.ID `json:"parents"`
	// Events is the number of events the commit holds.
	Events int `json:"events"`
	// Offset is the number of events on the first-parent line up to and
	// including Commit.
	Offset uint64 `json:"offset"`
	// Duplicate reports that the idempotency key was already used on the
	// branch with the same events, so nothing was written.
	Duplicate bool `json:"duplicate"`
	// Time is the commit's time: AppendOptions.Time, or now, moved up
	// to its first parent's when that is later (SPEC §3, Time). Not in
	// the JSON, whose shape SPEC §3 fixes.
	Time time.Time `json:"-"`
}

// ExpectError is an expected version that did not hold.
type ExpectError struct {
	// Stream is the stream whose version did not hold.
	Stream string
	// Expected is the version the caller expected (0: the stream does
	// not exist yet).
	Expected uint64
	// Found is the stream's version on the branch: its number of events.
	Found uint64
}

// Error says which stream was at which version.
func (e *ExpectError) Error() string {
	return fmt.Sprintf("stream %s is at version %d, expected %d", e.Stream, e.Found, e.Expected)
}

// Is makes an ExpectError match ErrConflict.
func (e *ExpectError) Is(target error) bool { return target == ErrConflict }

// KeyReusedError is an idempotency key used again with other events. It
// matches ErrConflict, as an ExpectError does, but retrying cannot help:
// the key names a commit of other events for good, where an expected
// version may hold once the caller has read the stream again. A client
// that retries on conflicts tells the two apart with errors.As.
type KeyReusedError struct {
	// Key is the idempotency key used again.
	Key string
	// Commit is the commit that holds the key; ZeroID when an earlier
	// line of the same import input used it.
	Commit object.ID
	// Line is the import input's line of the commit refused; 0 for
	// Append.
	Line int
}

// Error names the key and the commit, or the line, that used it first.
func (e *KeyReusedError) Error() string {
	msg := fmt.Sprintf("idempotency key %q was used with other events", e.Key)
	if e.Commit.IsZero() {
		msg += " earlier in the input"
	} else {
		msg += fmt.Sprintf(" (commit %s)", e.Commit.Short())
	}
	if e.Line > 0 {
		msg = fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	return msg
}

// Is makes a KeyReusedError match ErrConflict.
func (e *KeyReusedError) Is(target error) bool { return target == ErrConflict }

// Commit times are stored as nanoseconds since 1970 in 64 bits.
var (
	minTime = time.Date(1678, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkTime(t time.Time) error {
	if t.Before(minTime) || !t.Before(maxTime) {
		return invalidf("time %s is outside the years 1678 to 2261 that evgit stores", t.Format(time.RFC3339))
	}
	return nil
}

func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Append appends one commit holding all events, atomically, to a branch.
// A branch that moved meanwhile is no obstacle: the commit is built on
// the branch's head at the moment it is written, and the expected
// versions (an *ExpectError, matching ErrConflict, when one does not
// hold) and the idempotency key (AppendOptions.IdempotencyKey) are
// checked there. A rule of the model that refuses an event is an error
// matching ErrRule, and nothing is written. With HEAD detached and no
// AppendOptions.Branch, Append is refused with an error matching
// ErrInvalid: name the branch.
func (r *Repository) Append(ctx context.Context, events []EventInput, opts AppendOptions) (*AppendResult, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: no events", ErrNothingToCommit)
	}
	for s := range opts.Expect {
		if err := object.ValidateStream(s); err != nil {
			return nil, invalidf("expect: %v", err)
		}
	}
	if err := checkActor(opts.Actor); err != nil {
		return nil, err
	}
	if err := checkMessage(opts.Message); err != nil {
		return nil, err
	}
	if err := checkKey(opts.IdempotencyKey); err != nil {
		return nil, err
	}
	prepared := make([]preparedEvent, len(events))
	for i := range events {
		data, err := checkEvent(&events[i])
		if err != nil {
			return nil, invalidf("event %d: %v", i+1, err)
		}
		prepared[i] = preparedEvent{in: events[i], data: data}
	}
	var res *AppendResult
	err := r.st.Update(ctx, func(tx *store.Tx) error {
		// The model as of this transaction: another process may have set
		// a new one since this one last looked.
		mdl, mdlID, err := r.modelIn(tx)
		if err != nil {
			return err
		}
		w, branchRef, hs, err := r.writerOn(tx, opts.Branch, mdl, mdlID)
		if err != nil {
			return err
		}
		for _, id := range opts.Reverts {
			if _, err := readCommit(tx, id); errors.Is(err, ErrNotFound) {
				// An option given wrong, naming what is not there: both.
				return invalidWrap(notFoundf("reverts %s: no such commit", id.Short()))
			} else if err != nil {
				return invalidf("reverts %s: %v", id.Short(), err)
			}
		}
		if len(prepared) > 1 {
			size := 200
			for _, pe := range prepared {
				size += len(pe.data) + len(pe.in.Stream) + len(pe.in.Type) + 150
			}
			w.room = txRoom{objects: len(prepared) + 1, bytes: size}
			w.hs.streams = make(map[string]streamState, len(prepared))
		}
		out, err := w.commit(prepared, opts, branchRef)
		if err != nil {
			return err
		}
		res = &out
		if !res.Duplicate {
			if err := w.publish(branchRef, hs.head, opts.Actor, commitReflogMessage(opts.Message)); err != nil {
				return err
			}
		}
		r.keepHead(branchRef, w.hs, mdlID)
		return nil
	})
	if err != nil {
		if !refused(err) {
			r.forgetHeads()
		}
		return nil, invalidIfTooLarge(err)
	}
	return res, nil
}

// refused reports whether an append failed on its input, which leaves
// the cached heads as they were: a rule refused an event, an expected
// version did not hold, or an idempotency key was used with other
// events. The heads then keep the snapshots their last commits left
// building. After any other failure they are dropped and built again;
// a head kept is used only while its branch is still at it.
func refused(err error) bool {
	return errors.Is(err, ErrRule) || errors.Is(err, ErrConflict)
}

func commitReflogMessage(msg string) string {
	if msg == "" {
		return "commit"
	}
	return "commit: " + Subject(msg)
}

// Subject returns a commit message's subject as Git takes it: its first
// paragraph (up to the first blank line), its lines joined by spaces. It
// is what log --oneline and the commit line show, and what a revert
// message quotes.
func Subject(message string) string {
	// Blank lines before the first paragraph are skipped, as Git does.
	for {
		line, rest, ok := strings.Cut(message, "\n")
		if !ok || strings.TrimSpace(line) != "" {
			break
		}
		message = rest
	}
	first, _, _ := strings.Cut(message, "\n\n")
	if !strings.Contains(first, "\n") {
		return strings.TrimRight(first, " \t\r")
	}
	var b strings.Builder
	for line := range strings.Lines(first) {
		line = strings.TrimSpace(line)
		if line == "" {
			break // a line of white space ends the paragraph too
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(line)
	}
	return b.String()
}

// writerOn returns a commit writer on a branch's current head, as a
// transaction sees it, with the branch's full ref name and its head state.
func (r *Repository) writerOn(tx *store.Tx, branch string, mdl *model.Model, mdlID object.ID) (*commitWriter, string, *headState, error) {
	branchRef, err := r.branchRef(tx, branch)
	if err != nil {
		return nil, "", nil, err
	}
	hs, err := r.headFor(tx, branchRef, mdlID)
	if err != nil {
		return nil, "", nil, err
	}
	return &commitWriter{r: r, tx: tx, mdl: mdl, mdlID: mdlID, hs: hs.fork()}, branchRef, hs, nil
}

// branchRef returns the full ref a commit goes to.
func (r *Repository) branchRef(tx refReader, short string) (string, error) {
	if short != "" {
		if err := refs.CheckBranchName(short); err != nil {
			return "", invalidf("%v", err)
		}
		name := refs.HeadsPrefix + short
		if _, ok := tx.Ref(name); ok {
			return name, nil
		}
		if head, _ := tx.Ref(refs.HEAD); head.Symbolic == name {
			return name, nil // the unborn branch HEAD names
		}
		return "", fmt.Errorf("branch %q: %w", short, ErrNotFound)
	}
	head, ok := tx.Ref(refs.HEAD)
	if !ok || !head.IsSymbolic() {
		return "", errDetached
	}
	return head.Symbolic, nil
}

// refReader reads refs: a transaction, or the store as last read.
type refReader interface {
	Ref(name string) (refs.Value, bool)
}

type preparedEvent struct {
	in   EventInput
	data []byte        // canonical
	enc  *encodedEvent // encoded ahead, or nil
	line int           // its line in an import's input, from 1
	raw  []byte        // its line in an import's input
}

// checkActor refuses an actor that is not UTF-8 or holds a control
// character: a commit prints it on one line (cat-file -p, log), where a
// newline would make it read as something else.
func checkActor(a string) error {
	if !plainText(a) {
		return invalidf("actor %q: want UTF-8 without control characters", a)
	}
	return checkTextSize("actor", len(a))
}

// maxText is the most bytes a commit's message, actor or idempotency key,
// or an event's meta (its actor; its other keys and values together), may
// hold: with the most data an event may hold, the line export writes for
// it then fits the most a line may hold, and imports again (a review
// found an event whose meta made its export a line no import took).
const maxText = 1 << 20

// textSizeError says that text of n bytes is past maxText, or returns
// nil; checkTextSize is it as invalid input.
func textSizeError(what string, n int) error {
	if n > maxText {
		return fmt.Errorf("%s: %d bytes, more than the %d MiB it may hold", what, n, maxText>>20)
	}
	return nil
}

// checkTextSize refuses text of n bytes past maxText.
func checkTextSize(what string, n int) error {
	if err := textSizeError(what, n); err != nil {
		return invalidf("%v", err)
	}
	return nil
}

// checkMessage refuses a commit message that is not UTF-8 (see
// checkUTF8) or longer than maxText.
func checkMessage(m string) error {
	if err := checkUTF8("message", m); err != nil {
		return err
	}
	return checkTextSize("message", len(m))
}

// checkKey refuses an idempotency key that is not UTF-8 (see checkUTF8)
// or holds a control character: cat-file prints a commit's key on a
// header line of its own, where a newline would make a key read as
// another header.
func checkKey(k string) error {
	if !plainText(k) {
		return invalidf("idempotency key %q: want UTF-8 without control characters", k)
	}
	return checkTextSize("idempotency key", len(k))
}

// plainText reports whether s is UTF-8 without control characters, as an
// actor and an idempotency key must be: text shown on a line of its own
// (cat-file, log), where a newline would forge another.
func plainText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, unicode.IsControl)
}

// checkUTF8 refuses text that is not UTF-8: export writes it as JSON,
// which would replace the bad bytes, and the import of that export
// would then make another commit.
func checkUTF8(what, text string) error {
	if !utf8.ValidString(text) {
		return invalidf("%s %q: want UTF-8", what, text)
	}
	return nil
}

// timeText is a commit's time as an event's meta gives it (RFC 3339,
// nanoseconds), formatted on first need: events that bring their own
// time, as an import's mostly do, never need it.
type timeText struct {
	t time.Time
	s string
}

func (x *timeText) String() string {
	if x.s == "" {
		x.s = x.t.Format(time.RFC3339Nano)
	}
	return x.s
}

// filledMeta returns an event's meta with what its commit fills in: the
// commit's time (tt) and actor where the event gives none. bare is the
// meta of events that bring none, shared (nothing changes a meta map once
// an event holds it): made on first need and returned for the next.
func filledMeta(meta, bare map[string]string, tt *timeText, actor string) (filled, bareOut map[string]string) {
	switch {
	case len(meta) == 0:
		if bare == nil {
			bare = map[string]string{"time": tt.String()}
			if actor != "" {
				bare["actor"] = actor
			}
		}
		return bare, bare
	case meta["time"] == "" || (meta["actor"] == "" && actor != ""):
		meta = maps.Clone(meta)
		if meta["time"] == "" {
			meta["time"] = tt.String()
		}
		if meta["actor"] == "" && actor != "" {
			meta["actor"] = actor
		}
	}
	return meta, bare
}

// digest names a commit's events as given, to tell a retry with an
// idempotency key (same events) from a reuse of the key (other events).
// What only says what the commit would fill in is left out, or taken as
// filled in: a meta time or actor equal to the commit's time and actor
// as opts gives them, and a schema of 0 (the newest the model knows).
// Export writes them out, and a retry after export | import must still be
// the same events as the first try, which left them out. The time is the
// one asked for, not the one the commit takes (moved up to its parent's):
// that depends on the branch, which another writer may have moved between
// a try and its retry.
func digest(events []preparedEvent, opts AppendOptions, mdl *model.Model) object.ID {
	tstr := ""
	if t := opts.Time; !t.IsZero() {
		tstr = t.UTC().Format(time.RFC3339Nano)
	}
	var d digester
	for _, e := range events {
		meta := e.in.Meta
		if tstr != "" && meta["time"] == tstr || opts.Actor != "" && meta["actor"] == opts.Actor {
			meta = maps.Clone(meta)
			if meta["time"] == tstr {
				delete(meta, "time")
			}
			if opts.Actor != "" && meta["actor"] == opts.Actor {
				delete(meta, "actor")
			}
		}
		pe := e
		pe.in.Meta = meta
		if pe.in.Schema == 0 {
			pe.in.Schema = mdl.LatestSchema(pe.in.Type)
		}
		d.add([]preparedEvent{pe})
	}
	return d.sum()
}

// legacyDigest is the digest of events exactly as given, a schema of 0
// and a meta that repeats the commit's time or actor included: what
// builds before session 8 recorded with a key (a helper's audit found
// their keys' retries refused as reuses).
func legacyDigest(events []preparedEvent) object.ID {
	var d digester
	d.add(events)
	return d.sum()
}

// digester hashes events as digest does, a few at a time.
type digester struct {
	h   *blake3.Hasher
	buf []byte
}

// add hashes events after those added before.
func (d *digester) add(events []preparedEvent) {
	if d.h == nil {
		d.h = blake3.New()
	}
	for _, e := range events {
		ev := object.Event{Stream: e.in.Stream, Type: e.in.Type, Schema: e.in.Schema, Meta: e.in.Meta}
		d.buf = ev.AppendEncode(d.buf[:0])
		_, _ = d.h.Write(d.buf)
		d.buf = binary.AppendUvarint(d.buf[:0], uint64(len(e.data)))
		_, _ = d.h.Write(d.buf)
		_, _ = d.h.Write(e.data)
	}
}

// state returns a copy of the digest's state: the events added so far.
func (d *digester) state() *blake3.Hasher {
	if d.h == nil {
		d.h = blake3.New()
	}
	return d.h.Clone()
}

// sum returns the digest of the events added.
func (d *digester) sum() object.ID {
	if d.h == nil {
		d.h = blake3.New()
	}
	var id object.ID
	d.h.Sum(id[:0])
	return id
}

// commitWriter builds commits on a branch inside one transaction.
type commitWriter struct {
	r     *Repository
	tx    *store.Tx
	mdl   *model.Model
	mdlID object.ID
	hs    *headState
	// trusted skips folding: the events were folded, and the rules
	// checked, on this same head before (an import's dry run). The
	// snapshots come from the dry run's plan then.
	trusted bool
	plan    *snapshotPlan
	// dryRun marks a writer whose transaction is never written: it must
	// not record snapshots.
	dryRun bool
	// now is the time of a commit whose options give none; zero: the
	// clock's when the commit is built. An import fixes it, so that its
	// dry run folds each event with the meta.time its commit gives it.
	now time.Time
	// renames maps an import's declared commit IDs to those built.
	renames *importRenames
	// pending is room for the events of the commit being built, used
	// again by the next (an import builds a thousand in a row).
	pending []pendingEvent
	// room is what the commit adds, reserved in the transaction with the
	// snapshot tree an earlier commit left building, which goes after
	// the commit.
	room txRoom
	// foldAt asks a rebuild (model set) for the states of some streams
	// at these commits of the line, which it leaves in foldedAt.
	foldAt   map[object.ID]foldMark
	foldedAt map[object.ID]map[string]streamState
	// ctx, when set, stops a rebuild's fold of the whole line (model
	// set); a commit's own rebuild runs to its end.
	ctx context.Context
}

// txRoom is room reserved in a transaction: objects, and bytes of payload.
type txRoom struct{ objects, bytes int }

// commit builds one commit of the prepared events on the writer's head.
func (w *commitWriter) commit(events []preparedEvent, opts AppendOptions, branchRef string) (AppendResult, error) {
	branch := shortBranch(branchRef)
	var dig object.ID
	if opts.IdempotencyKey != "" {
		dig = digest(events, opts, w.mdl)
		prev, ok, err := keyedCommit(w.tx, branchRef, w.hs.head, opts.IdempotencyKey, dig, events, opts, w.mdl)
		if err != nil {
			return AppendResult{}, err
		}
		if ok {
			res, err := w.r.resultOf(w.tx, prev, branch, true)
			if err != nil {
				return AppendResult{}, err
			}
			return *res, nil
		}
	}
	streams := w.hs
	if !w.trusted {
		w.reserve()
		if err := streams.ensureTrack(w); err != nil {
			return AppendResult{}, err
		}
	}
	if len(opts.Expect) > 0 { // (the keys' iterator is a closure on the heap)
		for _, s := range slices.Sorted(maps.Keys(opts.Expect)) {
			st, err := streams.get(w, s)
			if err != nil {
				return AppendResult{}, err
			}
			if st.version != opts.Expect[s] {
				return AppendResult{}, &ExpectError{Stream: s, Expected: opts.Expect[s], Found: st.version}
			}
		}
	}
	t := opts.Time
	if t.IsZero() {
		t = w.now
	}
	if t.IsZero() {
		t = now()
	}
	t = t.UTC()
	if err := checkTime(t); err != nil {
		return AppendResult{}, err
	}
	if !streams.head.IsZero() && t.Before(streams.time) {
		t = streams.time
	}
	offset, err := nextOffset(streams.head, streams.offset, len(events))
	if err != nil {
		return AppendResult{}, err
	}
	actor := opts.Actor
	tt := timeText{t: t}
	c := &object.Commit{
		Time:           t,
		Actor:          actor,
		Message:        opts.Message,
		IdempotencyKey: opts.IdempotencyKey,
		Reverts:        opts.Reverts,
		Offset:         offset,
	}
	if !streams.head.IsZero() {
		c.Parents = []object.ID{streams.head}
	}
	c.Events = make([]object.ID, len(events))
	// A commit encoded on another goroutine has its own; the others
	// share the writer's, which the commit is done with when it returns.
	var evs []pendingEvent
	concurrent := !w.trusted && len(events) >= parallelEncodeMin
	if concurrent {
		evs = make([]pendingEvent, len(events))
	} else {
		if cap(w.pending) < len(events) {
			w.pending = make([]pendingEvent, len(events))
		}
		evs = w.pending[:len(events)]
		clear(evs)
	}
	// The meta of events that bring none, shared: nothing changes a
	// meta map once an event holds it.
	var bare map[string]string
	for i, pe := range events {
		schema := pe.in.Schema
		if schema == 0 {
			schema = w.mdl.LatestSchema(pe.in.Type)
		}
		meta := pe.in.Meta
		if e := pe.enc; e != nil && e.schema == schema && e.actor == actor {
			// Encoded ahead, for this schema and actor: the meta is
			// complete, as it is below.
			evs[i] = pendingEvent{meta: meta, schema: schema, id: e.id, body: e.body}
			continue
		}
		meta, bare = filledMeta(meta, bare, &tt, actor)
		evs[i] = pendingEvent{meta: meta, schema: schema}
	}
	// A large commit encodes and hashes its events on another goroutine
	// while this one folds them.
	var encoded chan struct{}
	if concurrent {
		encoded = make(chan struct{})
		go func() {
			defer close(encoded)
			encodeEvents(evs, events)
		}()
	} else {
		encodeEvents(evs, events)
	}
	wait := func() {
		if encoded != nil {
			<-encoded
		}
	}
	// The events go into the transaction, and start compressing, while
	// the fold's goroutines are still at work.
	putEvents := func() {
		wait()
		for i, pe := range events {
			c.Events[i] = w.tx.PutEventHashed(evs[i].id, evs[i].body, pe.data)
		}
		w.tx.CompressAhead()
	}
	if w.trusted {
		putEvents()
	} else if err := w.foldAll(events, evs, putEvents); err != nil {
		wait()
		return AppendResult{}, err
	}
	// The commit's entry goes right after its events, which it then
	// need not list (pack.Payload.AddCommit); the tree an earlier commit
	// left building goes after it, so that tree had this commit's fold to
	// finish in (and to be compressed in).
	id := w.tx.PutCommit(c)
	if !w.trusted {
		w.flushSnapshot()
	}
	job := w.startSnapshot(c)
	if opts.IdempotencyKey != "" {
		w.tx.PutIdempotency("", opts.IdempotencyKey, id, dig)
	}
	if err := w.link(id, c); err != nil {
		return AppendResult{}, err // a job started goes on and is dropped
	}
	streams.advance(id, c)
	if err := w.snapshot(id, c, job); err != nil {
		return AppendResult{}, err
	}
	return AppendResult{Commit: id, Branch: branch, Parents: nonNil(c.Parents), Events: len(events), Offset: c.Offset, Time: c.Time}, nil
}

// encodeEvents encodes and hashes the events not encoded ahead.
func encodeEvents(evs []pendingEvent, events []preparedEvent) {
	for i := range evs {
		if e := &evs[i]; e.body == nil {
			pe := &events[i]
			e.body = object.NewEvent(pe.in.Stream, pe.in.Type, e.schema, e.meta, pe.data).Encode()
			e.id = object.Hash(object.KindEvent, e.body)
		}
	}
}

// parallelEncodeMin is the least events a commit encodes on a goroutine
// of its own, beside its fold.
const parallelEncodeMin = 64

// pendingEvent is an event of a commit being built: its completed meta
// and schema, then its canonical body and ID.
type pendingEvent struct {
	meta   map[string]string
	schema int
	id     object.ID
	body   []byte
}

// parallelFoldMin is the least events a commit folds on several
// goroutines, one share of its streams each.
const parallelFoldMin = 256

// foldAll folds a commit's events, in order, into the writer's head.
// A large commit folds on several goroutines, each the events of its
// share of the streams in commit order (a stream's state depends only on
// its own events); the error reported is the first event's that fails,
// as folding one by one would report. during runs on the calling
// goroutine, meanwhile or after; it may use the transaction, which the
// fold's goroutines do not touch.
func (w *commitWriter) foldAll(events []preparedEvent, evs []pendingEvent, during func()) error {
	modelEvent := func(i int) model.Event {
		pe := &events[i]
		return model.Event{Type: pe.in.Type, Schema: evs[i].schema, Data: pe.data, Meta: evs[i].meta}
	}
	parts := min(runtime.GOMAXPROCS(0), 4)
	if len(events) < parallelFoldMin || parts < 2 {
		for i := range events {
			if err := w.fold(events[i].in.Stream, modelEvent(i)); err != nil {
				return err
			}
		}
		during()
		return nil
	}
	// The states before the commit, read here: reads go through the
	// transaction, which is not for several goroutines. Each stream gets
	// a slot; a share's goroutine writes only its own streams' slots.
	slot := make(map[string]int, len(events))
	of := make([]int, len(events)) // event → its stream's slot
	var names []string
	var states []streamState
	for i := range events {
		s := events[i].in.Stream
		k, ok := slot[s]
		if !ok {
			st, err := w.hs.get(w, s)
			if err != nil {
				return err
			}
			k = len(names)
			slot[s] = k
			names, states = append(names, s), append(states, st)
		}
		of[i] = k
	}
	failed := make([]int, parts) // per share, the first event refused, or -1
	errs := make([]error, parts)
	var wg sync.WaitGroup
	for p := range parts {
		failed[p] = -1
		wg.Go(func() {
			for i := range events {
				k := of[i]
				if k%parts != p {
					continue
				}
				next, err := w.mdl.Apply(names[k], states[k].state, modelEvent(i))
				if err != nil {
					failed[p], errs[p] = i, err
					return
				}
				states[k] = streamState{version: states[k].version + 1, state: next}
			}
		})
	}
	during()
	wg.Wait()
	first := -1
	for p := range parts {
		if errs[p] != nil && (first < 0 || failed[p] < failed[first]) {
			first = p
		}
	}
	if first >= 0 {
		return errs[first]
	}
	w.hs.setAll(names, states, w.mdl.SnapshotInterval() > 0)
	return nil
}

// fold applies an event to its stream's state at the writer's head. A
// large state the writer changes a second time is kept decoded from then
// on (streamState.live), so that each further merge patch costs its own
// size, not the state's.
func (w *commitWriter) fold(stream string, ev model.Event) error {
	st, own, err := w.hs.getLive(w, stream)
	if err != nil {
		return err
	}
	if !own {
		// Another head's entry: its Folder, if any, is not this writer's.
		if st, err = st.settled(); err != nil {
			return err
		}
	} else if st.live == nil && model.LargeState(st.state) {
		st.live = w.mdl.Folder(stream, st.state)
	}
	next := streamState{version: st.version + 1, live: st.live}
	if st.live != nil {
		err = st.live.Apply(ev)
	} else {
		next.state, err = w.mdl.Apply(stream, st.state, ev)
	}
	if err != nil {
		return err
	}
	w.hs.set(stream, next, w.mdl.SnapshotInterval() > 0)
	return nil
}

func nonNil(ids []object.ID) []object.ID {
	if ids == nil {
		return []object.ID{}
	}
	return ids
}

// publish moves the branch from old to the writer's head.
func (w *commitWriter) publish(branchRef string, old object.ID, actor, msg string) error {
	if w.hs.head == old {
		return nil
	}
	return w.tx.UpdateRef(refs.Update{Name: branchRef, Old: old, New: w.hs.head, Time: w.hs.time, Actor: actor, Message: msg})
}

func shortBranch(ref string) string {
	if len(ref) > len(refs.HeadsPrefix) && ref[:len(refs.HeadsPrefix)] == refs.HeadsPrefix {
		return ref[len(refs.HeadsPrefix):]
	}
	return ref
}

// resultOf describes an existing commit.
func (r *Repository) resultOf(rd reader, id object.ID, branch string, dup bool) (*AppendResult, error) {
	c, err := readCommit(rd, id)
	if err != nil {
		return nil, err
	}
	return &AppendResult{Commit: id, Branch: branch, Parents: nonNil(c.Parents), Events: len(c.Events), Offset: c.Offset, Duplicate: dup, Time: c.Time}, nil
}

// nextOffset is the offset of a commit of n events on a head at offset:
// a head whose offset leaves no room for them is damage (a commit decodes
// only with an offset at least its events), refused before a commit that
// would wrap to a small offset is written on it (a helper's audit).
func nextOffset(head object.ID, offset uint64, n int) (uint64, error) {
	if offset > math.MaxUint64-uint64(n) {
		return 0, fmt.Errorf("%w: commit %s has offset %d, which leaves no room for %d more events", ErrCorrupt, head.Short(), offset, n)
	}
	return offset + uint64(n), nil
}

// reader reads objects and snapshot records; the store and a
// transaction both are one.
type reader interface {
	Get(id object.ID) (object.Kind, []byte, []byte, error)
	Snapshot(commit, model object.ID) (object.ID, bool, error)
}

func readCommit(rd reader, id object.ID) (*object.Commit, error) {
	kind, body, _, err := rd.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindCommit {
		return nil, fmt.Errorf("%s is %s, not a commit: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	return object.DecodeCommit(body)
}

func readEvent(rd reader, id object.ID) (*object.Event, error) {
	kind, body, data, err := rd.Get(id)
	if err != nil {
		return nil, err
	}
	if kind != object.KindEvent {
		return nil, fmt.Errorf("%s is %s, not an event: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	e, err := object.DecodeEvent(body)
	if err != nil {
		return nil, err
	}
	e.Data = data // checked against e.DataID when the store first read it
	return e, nil
}

// readEventOf reads an event if it belongs to stream, reading only its
// names otherwise: a walk for one stream decodes no other stream's events.
func readEventOf(rd reader, id object.ID, stream string) (*object.Event, bool, error) {
	kind, body, _, err := rd.Get(id)
	if err != nil {
		return nil, false, err
	}
	if kind != object.KindEvent {
		return nil, false, fmt.Errorf("%s is %s, not an event: %w", id.Short(), kind.WithArticle(), ErrNotFound)
	}
	name, _, err := object.EventNames(body)
	if err != nil || string(name) != stream {
		return nil, false, err
	}
	e, err := readEvent(rd, id)
	return e, err == nil, err
}

// keyedCommit finds the commit of the branch's line that holds key (ok
// false for none) and refuses one made of other events than events with
// opts, whose digest is dig (*KeyReusedError): a retry writes nothing, a
// reuse is a conflict.
func keyedCommit(tx *store.Tx, branchRef string, head object.ID, key string, dig object.ID, events []preparedEvent, opts AppendOptions, mdl *model.Model) (object.ID, bool, error) {
	var line lineSet
	prev, prevDig, ok, err := keyOnLine(tx, branchRef, head, key, &line)
	if err != nil || !ok {
		return object.ZeroID, false, err
	}
	if same, err := sameRequest(tx, prev, prevDig, dig, events, opts, mdl); err != nil || !same {
		if err == nil {
			err = &KeyReusedError{Key: key, Commit: prev}
		}
		return object.ZeroID, false, err
	}
	return prev, true, nil
}

// sameRequest reports whether events with opts are the events of the
// commit prev, which holds their key with the digest prevDig: their
// digest dig is prevDig, or becomes it when each event given without a
// schema takes the schema prev's event was written with. A schema left
// out means the newest the model knows, and a model set between a try
// and its retry may know a newer one: the retry of a commit that landed
// failed for good as a reuse of its key (a helper's audit). A key that
// builds before session 8 recorded holds the digest of the events as
// given, nothing normalised (legacyDigest): its retry is one too.
func sameRequest(rd reader, prev, prevDig, dig object.ID, events []preparedEvent, opts AppendOptions, mdl *model.Model) (bool, error) {
	if dig == prevDig || legacyDigest(events) == prevDig {
		return true, nil
	}
	if !slices.ContainsFunc(events, func(e preparedEvent) bool { return e.in.Schema == 0 }) {
		return false, nil
	}
	c, err := readCommit(rd, prev)
	if err != nil || len(c.Events) != len(events) {
		return false, err
	}
	filled := slices.Clone(events)
	for i := range filled {
		if filled[i].in.Schema != 0 {
			continue
		}
		e, err := readEvent(rd, c.Events[i])
		if err != nil {
			return false, err
		}
		filled[i].in.Schema = e.Schema
	}
	return digest(filled, opts, mdl) == prevDig, nil
}

// foldMark is a commit of the line where a rebuild keeps states: its
// offset, and the streams whose states are kept there (the ones a branch
// or tag forking there touches: a copy of every stream at each of
// thousands of forks took gigabytes; a helper's audit).
type foldMark struct {
	offset  uint64
	streams map[string]bool
}

// keyLookedUnder, when set (by tests), is told of each branch keyOnLine
// looks a key up under.
var keyLookedUnder func(branch string)

// keyOnLine finds the commit an idempotency key names on the first-parent
// line that ends at head (SPEC §3: "already on the branch"). A key is
// recorded for no branch in particular (store.IdemKey with an empty
// branch), once for each commit that used it: the key is on the line when
// one of those commits is, whichever branch it was made on and whether or
// not that branch still exists, so a line never holds a key twice. Keys
// recorded before that were recorded under the branch their commit was
// made on: then this branch's record, then those of the other branches,
// for a branch made from one that holds the key. The index finds a key's
// commits; the line check walks back from head only as far as a commit's
// offset, so its cost is the distance to it (a retry is usually close to
// the head). The other branches cost a lookup each, only for a key the
// line does not hold (its first use), and only in a repository that a
// build before session 15 wrote keys to.
func keyOnLine(tx *store.Tx, branchRef string, head object.ID, key string, line *lineSet) (commit, digest object.ID, ok bool, err error) {
	if head.IsZero() {
		return commit, digest, false, nil
	}
	on := func(c, d object.ID) (bool, error) {
		ok, err := line.has(tx, head, c)
		if ok {
			commit, digest = c, d
		}
		return ok, err
	}
	uses, err := tx.IdempotencyAll("", key)
	if err != nil {
		return commit, digest, false, err
	}
	for _, u := range uses {
		if ok, err = on(u.Commit, u.Digest); err != nil || ok {
			return commit, digest, ok, err
		}
	}
	// Keys recorded under a branch are looked for only where a build
	// before session 15 left some: a lookup per branch for every new key
	// (13 ms a commit with 5,000 branches; a helper's audit).
	if legacy, err := tx.BranchIdem(); err != nil || !legacy {
		return commit, digest, false, err
	}
	check := func(branch string) (bool, error) {
		if keyLookedUnder != nil {
			keyLookedUnder(branch)
		}
		c, d, found, err := tx.Idempotency(branch, key)
		if err != nil || !found {
			return false, err
		}
		return on(c, d)
	}
	if ok, err = check(branchRef); err != nil || ok {
		return commit, digest, ok, err
	}
	for _, other := range tx.RefNames(refs.HeadsPrefix) {
		if other == branchRef {
			continue
		}
		if ok, err = check(other); err != nil || ok {
			return commit, digest, ok, err
		}
	}
	return commit, digest, false, nil
}
