// Package revert computes the compensating events that undo commits.
//
// History is immutable, so a revert never removes an event: it appends
// events whose effect cancels the reverted ones (SPEC §3 `revert`, §4). Two
// kinds of compensation exist, and they are checked differently.
//
// Domain compensations. A type the model names gets its compensation from
// its `revert` template: a deposit is undone by a withdrawal of the same
// amount. Such events are relative to whatever the state is now, so they
// compose with everything that happened since; whether they may happen at
// all is for the model's `require` rules to say, exactly as for any other
// event (a withdrawal that would overdraw is refused with ErrRule).
//
// Merge-patch compensations. An event of a type the model does not name is
// a JSON Merge Patch, and its compensation is the patch that puts back the
// values the fields had before it (model.MergePatchInverse), as SPEC §4
// defines it. Those values are absolute: applied on top of a later change
// of the same field, they set that change back too. The revert is still
// taken, as the SPEC says, and Check reports each such field (Overwrite),
// naming the stream, the field and the event, so that the caller can say
// so; git revert would stop with a conflict there. A later event that set
// a field to the value it already had changed nothing.
//
// The work is split in two so that the expensive part needs no lock:
// Compensate depends only on the reverted event and the state of its
// stream before it, both fixed by history, so a caller can compute every
// compensation without holding the repository's write lock. Check depends
// on the branch's current states and must run where they cannot move: in
// the same transaction that appends the compensations.
package revert
