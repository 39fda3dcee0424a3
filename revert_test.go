package evgit

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/evgit/evgit/bankgen"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/revert"
)

// bankRepo is a repository with the banking model of SPEC §4.
func bankRepo(t *testing.T) *Repository {
	t.Helper()
	r := newRepo(t)
	_, err := r.SetModel(context.Background(), []byte(bankgen.Model), "test")
	require.NoError(t, err)
	return r
}

// commitEvents appends one commit and returns its ID.
func commitEvents(t *testing.T, r *Repository, msg string, events ...EventInput) object.ID {
	t.Helper()
	res, err := r.Append(context.Background(), events, AppendOptions{Message: msg, Actor: "test"})
	require.NoError(t, err)
	return res.Commit
}

// stateOf returns a stream's state at HEAD, decoded.
func stateOf(t *testing.T, r *Repository, stream string) map[string]any {
	t.Helper()
	head, err := r.Resolve(context.Background(), "HEAD")
	require.NoError(t, err)
	st, err := r.StreamAt(context.Background(), head, stream)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(st.State, &m))
	return m
}

func balance(t *testing.T, r *Repository, stream string) float64 {
	t.Helper()
	b, ok := stateOf(t, r, stream)["balance"].(float64)
	require.True(t, ok, "balance of %s", stream)
	return b
}

func headOf(t *testing.T, r *Repository) object.ID {
	t.Helper()
	id, err := r.Resolve(context.Background(), "HEAD")
	require.NoError(t, err)
	return id
}

// eventsOf returns "type data" of each event of a commit, in order.
func eventsOf(t *testing.T, r *Repository, id object.ID) []string {
	t.Helper()
	info, err := r.Show(context.Background(), id.String())
	require.NoError(t, err)
	var out []string
	for _, e := range info.Events {
		out = append(out, e.Stream+" "+e.Type+" "+string(e.Data))
	}
	return out
}

func TestRevertDepositWithdraw(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	commitEvents(t, r, "Withdraw", ev("acc-1", "MoneyWithdrawn", `{"amount":80}`))
	assert.Equal(t, 20.0, balance(t, r, "acc-1"))

	// Reverting the deposit would overdraw: a rule refuses it, nothing written.
	before := headOf(t, r)
	_, err := r.Revert(ctx, dep.String(), RevertOptions{Actor: "test"})
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), `stream acc-1: MoneyWithdrawn: require "state.balance >= event.amount" failed`)
	assert.Equal(t, before, headOf(t, r), "nothing written")

	// Once funds allow, it is taken.
	commitEvents(t, r, "Top up", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	res, err := r.Revert(ctx, dep.String(), RevertOptions{Actor: "test"})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{dep}, res.Reverts)
	assert.Equal(t, 1, res.Events)
	assert.Equal(t, 20.0, balance(t, r, "acc-1"))
	info, err := r.Show(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, `Revert "Deposit"`, info.Message)
	assert.Equal(t, []object.ID{dep}, info.Reverts)
	assert.Equal(t, []string{`acc-1 MoneyWithdrawn {"amount":100}`}, eventsOf(t, r, res.Commit))
	assert.Equal(t, uint64(5), info.Events[0].Version)

	// Reverting the revert restores the deposit.
	res2, err := r.Revert(ctx, "HEAD", RevertOptions{Actor: "test"})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{res.Commit}, res2.Reverts)
	assert.Equal(t, 120.0, balance(t, r, "acc-1"))
	info, err = r.Show(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, `Revert "Revert "Deposit""`, info.Message)
	assert.Equal(t, []string{`acc-1 MoneyDeposited {"amount":100}`}, eventsOf(t, r, res2.Commit))

	// log shows reverts too.
	for c, err := range r.Log(ctx, LogOptions{Max: 1}) {
		require.NoError(t, err)
		assert.Equal(t, []object.ID{res.Commit}, c.Reverts)
	}
}

func TestRevertTwoEventCommitLastFirst(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("acc-2", "AccountOpened", `{"owner":"bob"}`))
	// Deposit, then freeze: undone in the other order, the withdrawal
	// would meet a frozen account and be refused.
	two := commitEvents(t, r, "Deposit and freeze",
		ev("acc-1", "MoneyDeposited", `{"amount":30}`),
		ev("acc-2", "MoneyDeposited", `{"amount":7}`),
		ev("acc-1", "AccountFrozen", `{}`))
	res, err := r.Revert(ctx, two.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{
		`acc-1 AccountUnfrozen {}`,
		`acc-2 MoneyWithdrawn {"amount":7}`,
		`acc-1 MoneyWithdrawn {"amount":30}`,
	}, eventsOf(t, r, res.Commit))
	assert.Equal(t, map[string]any{"owner": "ann", "balance": 0.0, "frozen": false}, stateOf(t, r, "acc-1"))
	assert.Equal(t, 0.0, balance(t, r, "acc-2"))
}

func TestRevertMergePatch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t) // no model: every event is a merge patch
	commitEvents(t, r, "Create", ev("doc-1", "Edited", `{"title":"a","meta":{"lang":"en","draft":true}}`))
	edit := commitEvents(t, r, "Edit", ev("doc-1", "Edited", `{"title":"b","author":"x","meta":{"draft":null}}`))
	assert.Equal(t, map[string]any{"title": "b", "author": "x", "meta": map[string]any{"lang": "en"}}, stateOf(t, r, "doc-1"))

	// A later change of another field is no obstacle.
	commitEvents(t, r, "Tag", ev("doc-1", "Edited", `{"tags":["t"]}`))
	res, err := r.Revert(ctx, edit.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{`doc-1 Edited {"author":null,"meta":{"draft":true},"title":"a"}`}, eventsOf(t, r, res.Commit))
	assert.Equal(t, map[string]any{"title": "a", "tags": []any{"t"}, "meta": map[string]any{"lang": "en", "draft": true}}, stateOf(t, r, "doc-1"))

	// Reverting the revert gives the edit back.
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"title": "b", "author": "x", "tags": []any{"t"}, "meta": map[string]any{"lang": "en"}}, stateOf(t, r, "doc-1"))
}

// A merge-patch compensation puts back the values from before the event,
// as SPEC §4 defines it, even over a later change of the same field; the
// result names each field it set back. Reverting the revert gives the
// later change back.
func TestRevertMergePatchChangedLater(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "Create", ev("doc-1", "Edited", `{"title":"a","meta":{"lang":"en"}}`))
	p1 := commitEvents(t, r, "P1", ev("doc-1", "Edited", `{"title":"b","meta":{"lang":"de"}}`))
	commitEvents(t, r, "P2", ev("doc-1", "Edited", `{"meta":{"lang":"fr"}}`))

	res, err := r.Revert(ctx, p1.String(), RevertOptions{})
	require.NoError(t, err)
	require.Len(t, res.Overwrites, 1)
	o := res.Overwrites[0]
	assert.Equal(t, revert.Overwrite{Stream: "doc-1", Field: "meta.lang", Path: []string{"meta", "lang"}, Event: o.Event, Commit: p1}, o)
	assert.Contains(t, o.String(), `stream doc-1: field "meta.lang" no longer holds what event`)
	assert.Equal(t, map[string]any{"title": "a", "meta": map[string]any{"lang": "en"}}, stateOf(t, r, "doc-1"))
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"title": "b", "meta": map[string]any{"lang": "fr"}}, stateOf(t, r, "doc-1"))

	// A later event that set the field to the value it had is no change.
	commitEvents(t, r, "Back", ev("doc-1", "Edited", `{"meta":{"lang":"de"}}`))
	res, err = r.Revert(ctx, p1.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Overwrites)
	assert.Equal(t, map[string]any{"title": "a", "meta": map[string]any{"lang": "en"}}, stateOf(t, r, "doc-1"))

	// A domain compensation is relative: later events are no obstacle.
	m := newRepo(t)
	_, err = m.SetModel(ctx, []byte(bankgen.Model), "test")
	require.NoError(t, err)
	commitEvents(t, m, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, m, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	commitEvents(t, m, "More", ev("acc-1", "MoneyDeposited", `{"amount":5}`))
	res, err = m.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Empty(t, res.Overwrites)
	assert.Equal(t, 5.0, balance(t, m, "acc-1"))
}

func TestRevertNoCompensation(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	open := commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	before := headOf(t, r)
	_, err := r.Revert(ctx, open.String(), RevertOptions{})
	require.ErrorIs(t, err, ErrNoCompensation)
	assert.NotErrorIs(t, err, ErrRule)
	assert.NotErrorIs(t, err, ErrConflict)
	assert.Contains(t, err.Error(), "stream acc-1: AccountOpened: no compensation known")
	assert.Equal(t, before, headOf(t, r))

	// A merge patch that created its stream has no inverse either.
	created := commitEvents(t, r, "Note", ev("note-1", "Noted", `{"text":"hi"}`))
	before = headOf(t, r)
	_, err = r.Revert(ctx, created.String(), RevertOptions{})
	require.ErrorIs(t, err, ErrNoCompensation)
	assert.Equal(t, before, headOf(t, r))

	// Unknown revisions and empty ranges.
	_, err = r.Revert(ctx, "nope", RevertOptions{})
	require.Error(t, err)
	_, err = r.Revert(ctx, "HEAD..HEAD", RevertOptions{})
	require.ErrorIs(t, err, ErrNothingToCommit)
}

func TestRevertRange(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	base := commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	a := commitEvents(t, r, "A", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	b := commitEvents(t, r, "B", ev("acc-1", "MoneyDeposited", `{"amount":20}`), ev("acc-1", "MoneyWithdrawn", `{"amount":5}`))
	c := commitEvents(t, r, "C", ev("acc-1", "AccountFrozen", `{}`))
	res, err := r.Revert(ctx, base.Short()+"..HEAD", RevertOptions{Actor: "test"})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{c, b, a}, res.Reverts, "newest first")
	assert.Equal(t, []string{
		`acc-1 AccountUnfrozen {}`,
		`acc-1 MoneyDeposited {"amount":5}`,
		`acc-1 MoneyWithdrawn {"amount":20}`,
		`acc-1 MoneyWithdrawn {"amount":10}`,
	}, eventsOf(t, r, res.Commit))
	assert.Equal(t, map[string]any{"owner": "ann", "balance": 0.0, "frozen": false}, stateOf(t, r, "acc-1"))
	info, err := r.Show(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, "Revert 3 commits\n\nRevert \"C\"\nRevert \"B\"\nRevert \"A\"", info.Message)

	// A range of merge patches on one field: each compensation is checked
	// against the state the newer ones leave.
	m := newRepo(t)
	base = commitEvents(t, m, "Create", ev("doc", "E", `{"n":1}`))
	commitEvents(t, m, "2", ev("doc", "E", `{"n":2}`))
	commitEvents(t, m, "3", ev("doc", "E", `{"n":3}`))
	_, err = m.Revert(ctx, base.String()+"..", RevertOptions{Message: "back to 1"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": 1.0}, stateOf(t, m, "doc"))
	info, err = m.Show(ctx, "HEAD")
	require.NoError(t, err)
	assert.Equal(t, "back to 1", info.Message)
}

func TestRevertOtherBranch(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	_, err := r.CreateBranch(ctx, "fix", "HEAD", "test")
	require.NoError(t, err)
	main := headOf(t, r)
	res, err := r.Revert(ctx, dep.String(), RevertOptions{Branch: "fix"})
	require.NoError(t, err)
	assert.Equal(t, "fix", res.Branch)
	assert.Equal(t, main, headOf(t, r), "main did not move")
	st, err := r.StreamAt(context.Background(), res.Commit, "acc-1")
	require.NoError(t, err)
	assert.JSONEq(t, `{"owner":"ann","balance":0,"frozen":false}`, string(st.State))
	_, err = r.Revert(ctx, dep.String(), RevertOptions{Branch: "nope"})
	require.ErrorIs(t, err, ErrNotFound)
}

// TestRevertRacesWriter reverts a merge patch while another handle (as
// another process would) changes the same field. Whatever the order, the
// outcome must agree with history: a revert built on the target sets
// nothing back, and the writer's value follows it; a revert built on the
// writer's commit puts back the value from before the target and says it
// set the writer's change back.
func TestRevertRacesWriter(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	commitEvents(t, r, "Create", ev("doc", "E", `{"title":"a","n":0}`))
	revertFirst, writerFirst := 0, 0
	for i := range 20 {
		target := commitEvents(t, r, "Set", ev("doc", "E", fmt.Sprintf(`{"title":"t%d"}`, i)))
		tc, err := r.Store().Commit(target)
		require.NoError(t, err)
		before, err := r.StreamAt(context.Background(), tc.Parent(), "doc")
		require.NoError(t, err)
		var wg sync.WaitGroup
		var rerr, werr error
		var res *RevertResult
		var wres *AppendResult
		wg.Add(2)
		go func() {
			defer wg.Done()
			res, rerr = r.Revert(ctx, target.String(), RevertOptions{})
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%5) * 300 * time.Microsecond) // vary who wins
			wres, werr = other.Append(ctx, []EventInput{ev("doc", "E", fmt.Sprintf(`{"title":"w%d"}`, i))}, AppendOptions{})
		}()
		wg.Wait()
		require.NoError(t, werr)
		require.NoError(t, rerr)
		require.NoError(t, r.Store().Refresh()) // see what the other handle wrote
		c, err := r.Store().Commit(res.Commit)
		require.NoError(t, err)
		wc, err := r.Store().Commit(wres.Commit)
		require.NoError(t, err)
		if c.Parent() == target {
			revertFirst++
			assert.Empty(t, res.Overwrites)
			assert.Equal(t, res.Commit, wc.Parent())
			st, err := r.StreamAt(context.Background(), wres.Commit, "doc")
			require.NoError(t, err)
			assert.Contains(t, string(st.State), fmt.Sprintf(`"title":"w%d"`, i))
			continue
		}
		writerFirst++
		assert.Equal(t, target, wc.Parent())
		assert.Equal(t, wres.Commit, c.Parent(), "revert built on the writer's commit")
		require.Len(t, res.Overwrites, 1)
		assert.Equal(t, "title", res.Overwrites[0].Field)
		st, err := r.StreamAt(context.Background(), res.Commit, "doc")
		require.NoError(t, err)
		assert.JSONEq(t, string(before.State), string(st.State), "the value from before the target, back")
	}
	t.Logf("reverts first %d, writers first %d", revertFirst, writerFirst)
}

func TestRevertModelChangedMeanwhile(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	// Another handle replaces the model with one that forbids withdrawals
	// of 10; the revert must be judged by the new model.
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	strict := `types:
  AccountOpened: { apply: { owner: event.owner, balance: 0 } }
  MoneyDeposited:
    apply: { balance: state.balance + event.amount }
    revert: { type: MoneyWithdrawn, data: { amount: event.amount } }
  MoneyWithdrawn:
    require: ["event.amount < 10"]
    apply: { balance: state.balance - event.amount }
`
	// The model changes after the compensations were computed under the
	// old one and before they are appended: the revert starts again.
	calls := 0
	testHookRevertComputed = func() {
		calls++
		if calls == 1 {
			_, err := other.SetModel(ctx, []byte(strict), "test")
			require.NoError(t, err)
		}
	}
	defer func() { testHookRevertComputed = nil }()
	_, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.ErrorIs(t, err, ErrRule)
	assert.Contains(t, err.Error(), `require "event.amount < 10"`)
	assert.Equal(t, 2, calls, "computed again under the new model")
}

func TestRevertTime(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "Create", ev("doc", "E", `{"n":0}`))
	one := commitEvents(t, r, "One", ev("doc", "E", `{"n":1}`))
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	res, err := r.Revert(ctx, one.String(), RevertOptions{Time: at, Actor: "ops"})
	require.NoError(t, err)
	info, err := r.Show(ctx, res.Commit.String())
	require.NoError(t, err)
	assert.Equal(t, at, info.Time)
	assert.Equal(t, "ops", info.Actor)
	assert.Equal(t, "ops", info.Events[0].Meta["actor"])
	assert.Equal(t, "2030-01-02T03:04:05Z", info.Events[0].Meta["time"])
}

// The message is `Revert "<msg>"` (SPEC §3), with the reverted commit's
// subject line, also when it is empty.
func TestRevertMessage(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commitEvents(t, r, "", ev("doc", "E", `{"a":1}`))
	commitEvents(t, r, "", ev("doc", "E", `{"a":2}`))
	res, err := r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, `Revert ""`, res.Message)
	commitEvents(t, r, "Subject\n\nBody", ev("doc", "E", `{"a":3}`))
	res, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, `Revert "Subject"`, res.Message)
	res, err = r.Revert(ctx, "HEAD", RevertOptions{EmptyMessage: true})
	require.NoError(t, err)
	assert.Equal(t, "", res.Message, "revert -m \"\"")
}

// depositWithTwoHandles is a bank repository whose HEAD deposits into an
// opened account, and a second Repository on it, as another process.
func depositWithTwoHandles(t *testing.T) (r, other *Repository, dep object.ID) {
	t.Helper()
	r = bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep = commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	other, err := Open(context.Background(), r.GitDir())
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	return r, other, dep
}

// Two `revert HEAD` at once each reverted the commit HEAD named when it
// started, so a deposit was withdrawn twice (a helper's audit). A
// revision resolved against a branch that moves before the revert is
// appended is resolved again on the new head: the second reverts the
// first's revert, as it would have run after it. A full ID stays put.
func TestRevertHeadResolvedAgainWhenTheBranchMoves(t *testing.T) {
	ctx := context.Background()
	r, other, dep := depositWithTwoHandles(t)
	var first *RevertResult
	calls := 0
	testHookRevertComputed = func() {
		calls++
		if calls == 1 {
			// Another process reverts HEAD meanwhile.
			var err error
			first, err = other.Revert(ctx, "HEAD", RevertOptions{})
			require.NoError(t, err)
			assert.Equal(t, []object.ID{dep}, first.Reverts)
		}
	}
	defer func() { testHookRevertComputed = nil }()
	res, err := r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{first.Commit}, res.Reverts, "the revert of the revert")
	assert.Equal(t, first.Commit, res.Parents[0])
	st, err := r.State(ctx, "HEAD", "acc-1", StateOptions{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"owner":"ann","balance":100,"frozen":false}`, string(st.State), "the deposit withdrawn once, and put back")

	// By full ID, the commit named is the one reverted, on the new head.
	calls = 0
	testHookRevertComputed = func() { calls++ }
	res, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{dep}, res.Reverts)
	assert.Equal(t, 1, calls)
}

// Reverting a commit of another branch whose stream the branch lacks
// made that stream there (a helper's audit): refused now, nothing
// written. (Any commit of another branch is refused now, first: see
// TestRevertOfACommitNotOnTheBranch.)
func TestRevertOfAStreamTheBranchLacks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	base := commitEvents(t, r, "base", ev("s", "E", `{"a":1}`))
	_, err := r.CreateBranch(ctx, "feat", "main", "test")
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("y", "E", `{"t":1,"u":2}`)}, AppendOptions{Branch: "feat", Message: "mk"})
	require.NoError(t, err)
	_, err = r.Append(ctx, []EventInput{ev("y", "E", `{"t":5}`)}, AppendOptions{Branch: "feat", Message: "mod"})
	require.NoError(t, err)
	_, err = r.Revert(ctx, "feat", RevertOptions{})
	require.ErrorIs(t, err, ErrNoCompensation)
	var nb *NotOnBranchError
	require.ErrorAs(t, err, &nb)
	head, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, base, head, "nothing written")
}

// A revision the branch moving cannot change (a tag, an abbreviated ID,
// another branch) is not resolved again: on a branch that moves before
// every attempt, its revert lands at once, where pinning every revision
// failed it with ErrConflict after a hundred tries (a helper's review).
func TestRevertOfAFixedRevisionOnABusyBranch(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	_, err := r.CreateTag(ctx, "v1", dep.String(), "test")
	require.NoError(t, err)
	_, err = r.CreateBranch(ctx, "side", dep.String(), "test")
	require.NoError(t, err)
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	calls := 0
	testHookRevertComputed = func() {
		calls++
		_, err := other.Append(ctx, []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":100}`)}, AppendOptions{})
		require.NoError(t, err)
	}
	defer func() { testHookRevertComputed = nil }()
	for _, rev := range []string{"v1", dep.String()[:10], "side", "side~0"} {
		calls = 0
		res, err := r.Revert(ctx, rev, RevertOptions{})
		require.NoError(t, err, rev)
		assert.Equal(t, []object.ID{dep}, res.Reverts, rev)
		assert.Equal(t, 1, calls, "%s: computed once", rev)
		// The deposit back in effect, for the next name to revert it.
		hook := testHookRevertComputed
		testHookRevertComputed = nil
		_, err = r.Revert(ctx, res.Commit.String(), RevertOptions{})
		require.NoError(t, err)
		testHookRevertComputed = hook
	}
}

// A rule that refuses one compensation of a range names the commit it
// would undo, not only its stream and type: here A's deposit, whose
// withdrawal the frozen account refuses, after C's was accepted.
func TestRevertRangeRefusedNamesTheCommit(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("acc-2", "AccountOpened", `{"owner":"bob"}`))
	frozen := commitEvents(t, r, "Freeze", ev("acc-1", "AccountFrozen", `{}`))
	a := commitEvents(t, r, "A", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	c := commitEvents(t, r, "C", ev("acc-2", "MoneyDeposited", `{"amount":5}`))
	_, err := r.Revert(ctx, frozen.Short()+"..HEAD", RevertOptions{Actor: "test"})
	require.ErrorIs(t, err, ErrRule)
	assert.Equal(t, "cannot revert commit "+a.Short()+`: stream acc-1: MoneyWithdrawn: require "!state.frozen" failed`, err.Error())
	assert.Equal(t, c, headOf(t, r), "nothing written")
}

// A revert with an idempotency key is safe to retry: the retry finds the
// revert that landed and writes nothing, even where a second
// compensation would be refused (the key is checked before the rules);
// a retry of `revert HEAD`, which now names the revert, holds other
// events and is refused as a key reused.
func TestRevertIdempotencyKey(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	first, err := r.Revert(ctx, dep.String(), RevertOptions{Actor: "test", IdempotencyKey: "undo-1"})
	require.NoError(t, err)
	assert.False(t, first.Duplicate)

	again, err := r.Revert(ctx, dep.String(), RevertOptions{Actor: "test", IdempotencyKey: "undo-1"})
	require.NoError(t, err, "a second withdrawal of 10 from 0 would break a rule; the key is found first")
	assert.True(t, again.Duplicate)
	assert.Equal(t, first.Commit, again.Commit)
	assert.Equal(t, []object.ID{dep}, again.Reverts)
	assert.Equal(t, `Revert "Deposit"`, again.Message)
	assert.Equal(t, first.Commit, headOf(t, r), "nothing written")
	assert.Equal(t, 0.0, balance(t, r, "acc-1"))

	_, err = r.Revert(ctx, "HEAD", RevertOptions{Actor: "test", IdempotencyKey: "undo-1"})
	var reused *KeyReusedError
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, first.Commit, reused.Commit)
	assert.ErrorIs(t, err, ErrConflict)
	assert.Equal(t, first.Commit, headOf(t, r))

	// Without the key, the same retry is refused too: the deposit is
	// reverted already.
	_, err = r.Revert(ctx, dep.String(), RevertOptions{Actor: "test"})
	var already *AlreadyRevertedError
	require.ErrorAs(t, err, &already)
	assert.Equal(t, first.Commit, already.By)
	assert.Equal(t, first.Commit, headOf(t, r))

	_, err = r.Revert(ctx, dep.String(), RevertOptions{IdempotencyKey: "a\nb"})
	require.ErrorIs(t, err, ErrInvalid)
}

// A key names one revert: the same compensations reverting another
// commit (two equal deposits), or a plain commit that used the key, are
// not it, and the key is refused as reused rather than the revert
// reported done.
func TestRevertIdempotencyKeyNamesTheRevertedCommits(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	d1 := commitEvents(t, r, "D1", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	d2 := commitEvents(t, r, "D2", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	first, err := r.Revert(ctx, d1.String(), RevertOptions{IdempotencyKey: "k"})
	require.NoError(t, err)
	_, err = r.Revert(ctx, d2.String(), RevertOptions{IdempotencyKey: "k"})
	var reused *KeyReusedError
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, first.Commit, reused.Commit)

	plain, err := r.Append(ctx, []EventInput{ev("acc-1", "MoneyWithdrawn", `{"amount":10}`)}, AppendOptions{IdempotencyKey: "k2"})
	require.NoError(t, err)
	_, err = r.Revert(ctx, d2.String(), RevertOptions{IdempotencyKey: "k2"})
	require.ErrorAs(t, err, &reused)
	assert.Equal(t, plain.Commit, reused.Commit)
	assert.Equal(t, plain.Commit, headOf(t, r), "nothing written")
}

// Two `revert HEAD` with one key (a request and its retry) that resolved
// HEAD alike: the one that lands second finds the first by its key, though
// the branch moved under it, and is that revert, not a revert of it.
func TestRevertIdempotencyKeyRetryLandsFirst(t *testing.T) {
	ctx := context.Background()
	r, other, dep := depositWithTwoHandles(t)
	var retry *RevertResult
	var retryErr error
	once := false
	testHookRevertComputed = func() {
		if !once {
			once = true
			retry, retryErr = other.Revert(ctx, "HEAD", RevertOptions{IdempotencyKey: "k"})
		}
	}
	defer func() { testHookRevertComputed = nil }()
	res, err := r.Revert(ctx, "HEAD", RevertOptions{IdempotencyKey: "k"})
	require.NoError(t, retryErr)
	assert.Equal(t, []object.ID{dep}, retry.Reverts)
	require.NoError(t, err)
	assert.True(t, res.Duplicate)
	assert.Equal(t, retry.Commit, res.Commit)
	assert.Equal(t, retry.Commit, headOf(t, r))
}

// A commit reverted already, by a revert in effect, is not reverted
// again: a second refund. Alone or in a range, by any name, even when
// the first revert lands while the second computes. Reverting the
// revert puts the commit back in effect, and then it can be reverted
// again; a branch without the revert can revert it.
func TestRevertTwiceIsRefused(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	_, err := r.CreateBranch(ctx, "side", dep.String(), "test")
	require.NoError(t, err)
	gift := commitEvents(t, r, "Gift", ev("acc-1", "MoneyDeposited", `{"amount":7}`))
	first, err := r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)

	refused := func(rev string, by object.ID) {
		t.Helper()
		head := headOf(t, r)
		_, err := r.Revert(ctx, rev, RevertOptions{})
		var already *AlreadyRevertedError
		require.ErrorAs(t, err, &already, rev)
		assert.ErrorIs(t, err, ErrNothingToCommit)
		assert.Equal(t, dep, already.Commit, rev)
		assert.Equal(t, by, already.By, rev)
		assert.Equal(t, "commit "+dep.Short()+" is already reverted by "+by.Short(), err.Error())
		assert.Equal(t, head, headOf(t, r), "%s: nothing written", rev)
	}
	refused(dep.String(), first.Commit)
	refused("HEAD~2", first.Commit)
	refused(dep.Short()+"~1.."+gift.Short(), first.Commit) // the gift is fine, the deposit not
	assert.Equal(t, 7.0, balance(t, r, "acc-1"))

	// The revert reverted: the deposit counts again, and can be reverted.
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 107.0, balance(t, r, "acc-1"))
	second, err := r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 7.0, balance(t, r, "acc-1"))
	refused(dep.String(), second.Commit)

	// Another branch's line holds no revert of it.
	res, err := r.Revert(ctx, dep.String(), RevertOptions{Branch: "side"})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{dep}, res.Reverts)

	// The first of two reverts at once lands; the second, computed
	// before it landed, is refused under the lock.
	other, err := Open(ctx, r.GitDir())
	require.NoError(t, err)
	defer other.Close()
	var landed *RevertResult
	testHookRevertComputed = func() {
		testHookRevertComputed = nil
		landed, err = other.Revert(ctx, gift.String(), RevertOptions{})
		require.NoError(t, err)
	}
	defer func() { testHookRevertComputed = nil }()
	_, err = r.Revert(ctx, gift.String(), RevertOptions{})
	var already *AlreadyRevertedError
	require.ErrorAs(t, err, &already)
	assert.Equal(t, gift, already.Commit)
	assert.Equal(t, landed.Commit, already.By)
	assert.Equal(t, 0.0, balance(t, r, "acc-1"))
}

// A range that holds a commit and its revert reverts both: the revert's
// compensation puts the deposit back and the deposit's takes it away,
// so it stays undone once.
func TestRevertRangeWithACommitAndItsRevert(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	open := commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	undo, err := r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	res, err := r.Revert(ctx, open.String()+"..HEAD", RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, []object.ID{undo.Commit, dep}, res.Reverts)
	assert.Equal(t, 0.0, balance(t, r, "acc-1"))
	// That range's revert undid the deposit: not again.
	_, err = r.Revert(ctx, dep.String(), RevertOptions{})
	var already *AlreadyRevertedError
	require.ErrorAs(t, err, &already)
	assert.Equal(t, res.Commit, already.By)

	// Once the range's revert is reverted, the first revert is in effect
	// again, and the range can be reverted again.
	_, err = r.Revert(ctx, "HEAD", RevertOptions{})
	require.NoError(t, err)
	_, err = r.Revert(ctx, open.String()+".."+undo.Commit.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0.0, balance(t, r, "acc-1"))

	// A range whose revert of the deposit was reverted would undo that
	// revert a second time: refused, though the balance would not move.
	r = bankRepo(t)
	open = commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep = commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	undo, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	back, err := r.Revert(ctx, undo.Commit.String(), RevertOptions{})
	require.NoError(t, err)
	_, err = r.Revert(ctx, open.String()+".."+undo.Commit.String(), RevertOptions{})
	require.ErrorAs(t, err, &already)
	assert.Equal(t, AlreadyRevertedError{Commit: undo.Commit, By: back.Commit}, *already)
	assert.Equal(t, back.Commit, headOf(t, r))
	assert.Equal(t, 100.0, balance(t, r, "acc-1"))
}

// Reverting a revert puts back what it reverted: reverting the revert
// of a revert undoes the first commit again, and is refused when that
// commit is undone already (a second refund), alone or through a
// range's revert.
func TestRevertOfARevertThatWouldUndoTwice(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("acc-1", "MoneyDeposited", `{"amount":1000}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	fee := commitEvents(t, r, "Fee", ev("acc-1", "MoneyDeposited", `{"amount":10}`))
	r1, err := r.Revert(ctx, dep.String(), RevertOptions{}) // 1010
	require.NoError(t, err)
	r2, err := r.Revert(ctx, r1.Commit.String(), RevertOptions{}) // 1110: dep back
	require.NoError(t, err)
	r3, err := r.Revert(ctx, dep.String(), RevertOptions{}) // 1010
	require.NoError(t, err)
	head := headOf(t, r)
	_, err = r.Revert(ctx, r2.Commit.String(), RevertOptions{}) // would put r1 back: 910
	var already *AlreadyRevertedError
	require.ErrorAs(t, err, &already)
	assert.Equal(t, AlreadyRevertedError{Commit: dep, By: r3.Commit, Through: r2.Commit}, *already)
	assert.Equal(t, "commit "+dep.Short()+" is already reverted by "+r3.Commit.Short()+"; reverting "+r2.Commit.Short()+" would undo it again", err.Error())
	assert.Equal(t, head, headOf(t, r), "nothing written")
	assert.Equal(t, 1010.0, balance(t, r, "acc-1"))

	// The same through a range: its revert reverted, the fee reverted
	// again, the revert of the revert is refused.
	rr, err := r.Revert(ctx, dep.Short()+".."+fee.Short(), RevertOptions{}) // the fee: 1000
	require.NoError(t, err)
	rr2, err := r.Revert(ctx, rr.Commit.String(), RevertOptions{}) // 1010
	require.NoError(t, err)
	_, err = r.Revert(ctx, fee.String(), RevertOptions{}) // 1000
	require.NoError(t, err)
	_, err = r.Revert(ctx, rr2.Commit.String(), RevertOptions{})
	require.ErrorAs(t, err, &already)
	assert.Equal(t, fee, already.Commit)
	assert.Equal(t, 1000.0, balance(t, r, "acc-1"))
}

// Histories that reverted one commit twice (made before reverts were
// checked, or by an import) count both: the commit stays refused, naming
// the newest revert in effect, until both reverts are reverted.
func TestRevertAfterAnOlderDoubleRevert(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`), ev("acc-1", "MoneyDeposited", `{"amount":1000}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	undo := func() object.ID {
		res, err := r.Append(ctx, []EventInput{ev("acc-1", "MoneyWithdrawn", `{"amount":100}`)}, AppendOptions{Message: "undo", Reverts: []object.ID{dep}})
		require.NoError(t, err)
		return res.Commit
	}
	o1, o2 := undo(), undo()
	assert.Equal(t, 900.0, balance(t, r, "acc-1"))
	var already *AlreadyRevertedError
	_, err := r.Revert(ctx, dep.String(), RevertOptions{})
	require.ErrorAs(t, err, &already)
	assert.Equal(t, o2, already.By)
	_, err = r.Revert(ctx, o1.String(), RevertOptions{})
	require.NoError(t, err)
	_, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.ErrorAs(t, err, &already)
	assert.Equal(t, o2, already.By, "still undone once")
	_, err = r.Revert(ctx, o2.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1100.0, balance(t, r, "acc-1"))
	_, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1000.0, balance(t, r, "acc-1"))
}

// A commit that is not on the branch's first-parent line is not reverted
// there (helpers' audits): the branch never had its events. Before, a
// deposit made on another branch was withdrawn from this one; the revert
// of another branch's revert put a deposit in a second time; and with no
// model, a field was set to a value of the other branch's history.
func TestRevertOfACommitNotOnTheBranch(t *testing.T) {
	ctx := context.Background()
	r := bankRepo(t)
	commitEvents(t, r, "Open", ev("acc-1", "AccountOpened", `{"owner":"ann"}`))
	dep := commitEvents(t, r, "Deposit", ev("acc-1", "MoneyDeposited", `{"amount":100}`))
	_, err := r.CreateBranch(ctx, "side", "main", "test")
	require.NoError(t, err)
	side, err := r.Append(ctx, []EventInput{ev("acc-1", "MoneyDeposited", `{"amount":7}`)}, AppendOptions{Branch: "side", Message: "Side deposit"})
	require.NoError(t, err)
	head, err := r.Resolve(ctx, "main")
	require.NoError(t, err)
	refused := func(rev string, opts RevertOptions, commit object.ID, branch string) {
		t.Helper()
		_, err := r.Revert(ctx, rev, opts)
		require.ErrorIs(t, err, ErrNoCompensation, rev)
		var nb *NotOnBranchError
		require.ErrorAs(t, err, &nb, rev)
		assert.Equal(t, commit, nb.Commit)
		assert.Equal(t, branch, nb.Branch)
		assert.Contains(t, err.Error(), "is not on branch '"+branch+"'")
		now, err := r.Resolve(ctx, "main")
		require.NoError(t, err)
		assert.Equal(t, head, now, "nothing written to main")
		assert.Equal(t, 100.0, balance(t, r, "acc-1"))
	}
	refused(side.Commit.String(), RevertOptions{}, side.Commit, "main")
	refused("side", RevertOptions{}, side.Commit, "main")
	refused("main..side", RevertOptions{}, side.Commit, "main")

	// The revert of another branch's revert: the deposit stays once.
	r1, err := r.Revert(ctx, dep.String(), RevertOptions{Branch: "side"})
	require.NoError(t, err, "side has the deposit")
	refused(r1.Commit.String(), RevertOptions{}, r1.Commit, "main")
	_, err = r.Revert(ctx, dep.String(), RevertOptions{})
	require.NoError(t, err)
	assert.Equal(t, 0.0, balance(t, r, "acc-1"), "main's deposit undone once")

	// With no model: main keeps what it had.
	p := newRepo(t)
	commitEvents(t, p, "base", ev("e", "E", `{"v":1}`))
	pHead, err := p.Resolve(ctx, "main")
	require.NoError(t, err)
	_, err = p.CreateBranch(ctx, "side", "main", "test")
	require.NoError(t, err)
	for _, v := range []string{`{"v":2}`, `{"v":3}`} {
		_, err = p.Append(ctx, []EventInput{ev("e", "E", v)}, AppendOptions{Branch: "side"})
		require.NoError(t, err)
	}
	_, err = p.Revert(ctx, "side", RevertOptions{})
	var nb *NotOnBranchError
	require.ErrorAs(t, err, &nb)
	now, err := p.Resolve(ctx, "main")
	require.NoError(t, err)
	assert.Equal(t, pHead, now)
	st, err := p.State(ctx, "main", "e", StateOptions{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"v":1}`, string(st.State))
}
