// Package refs names points in history: branches, tags and HEAD, with
// Git's ref-name rules, compare-and-swap updates and a reflog.
//
// Ref moves are not files of their own. Each move is an Update, recorded
// as a record in the same frame as the commit it publishes, so the commit,
// the ref move and the reflog entry become durable with one sync and a
// crash never leaves a ref pointing at a commit that is not there. The
// store applies the updates to a Table under its lock; an update whose old
// value no longer holds fails with ErrConflict.
package refs
