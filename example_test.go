package evgit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evgit/evgit"
)

// A repository from Go: two commits, the second guarded by the version
// its writer read, then the state before it and the stream's events.
func Example() {
	dir, _ := os.MkdirTemp("", "evgit-example")
	defer os.RemoveAll(dir)
	if err := bank(context.Background(), filepath.Join(dir, "bank")); err != nil {
		panic(err)
	}
	// Run again on the same repository, the guarded Append is refused.
	fmt.Println(bank(context.Background(), filepath.Join(dir, "bank")))
	// Output:
	// 1 {"balance":0,"owner":"Ann"}
	// 1 AccountOpened {"balance":0,"owner":"Ann"}
	// 2 MoneyDeposited {"balance":120}
	// acc-1 moved on since it was read; read it again and decide: stream acc-1 is at version 3, expected 1
}

// bank is README.md's program from Go, as it stands there
// (TestReadmeRunsTheExample keeps the two alike).
func bank(ctx context.Context, dir string) error {
	repo, _, err := evgit.Init(ctx, dir, evgit.InitOptions{})
	if err != nil {
		return err
	}
	defer repo.Close() // also records snapshots that large commits left building
	if _, err := repo.Append(ctx, []evgit.EventInput{
		{Stream: "acc-1", Type: "AccountOpened", Data: json.RawMessage(`{"owner":"Ann","balance":0}`)},
	}, evgit.AppendOptions{Message: "Open"}); err != nil {
		return err
	}
	res, err := repo.Append(ctx, []evgit.EventInput{ // only if acc-1 is still at version 1
		{Stream: "acc-1", Type: "MoneyDeposited", Data: json.RawMessage(`{"balance":120}`)},
	}, evgit.AppendOptions{Message: "Deposit", Expect: map[string]uint64{"acc-1": 1}})
	if errors.Is(err, evgit.ErrConflict) {
		return fmt.Errorf("acc-1 moved on since it was read; read it again and decide: %w", err)
	}
	if err != nil {
		return err
	}
	then, err := repo.State(ctx, res.Commit.String()+"~1", "acc-1", evgit.StateOptions{})
	if err != nil {
		return err
	}
	fmt.Println(then.Version, string(then.State)) // 1 {"balance":0,"owner":"Ann"}

	// The stream's events, oldest first: 1 AccountOpened ..., 2 MoneyDeposited ...
	for e, err := range repo.Events(ctx, "HEAD", "acc-1", evgit.EventsOptions{}) {
		if err != nil {
			return err
		}
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
	return nil
}

// A stream's events, oldest first, from a version on: what an account
// statement, or a reader that keeps its place, reads.
func ExampleRepository_Events() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "evgit-example")
	defer os.RemoveAll(dir)
	repo, _, err := evgit.Init(ctx, filepath.Join(dir, "bank"), evgit.InitOptions{})
	if err != nil {
		panic(err)
	}
	defer repo.Close()
	for _, amount := range []string{`{"amount":100}`, `{"amount":20}`, `{"amount":5}`} {
		ev := evgit.EventInput{Stream: "acc-1", Type: "MoneyDeposited", Data: json.RawMessage(amount)}
		if _, err := repo.Append(ctx, []evgit.EventInput{ev}, evgit.AppendOptions{}); err != nil {
			panic(err)
		}
	}
	for e, err := range repo.Events(ctx, "HEAD", "acc-1", evgit.EventsOptions{From: 2}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Version, e.Type, string(e.Data))
	}
	// Output:
	// 2 MoneyDeposited {"amount":20}
	// 3 MoneyDeposited {"amount":5}
}

// A model gives events their meaning: rules that refuse an event, and
// the state as of any time, folded through it.
func ExampleRepository_SetModel() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "evgit-example")
	defer os.RemoveAll(dir)
	repo, _, err := evgit.Init(ctx, filepath.Join(dir, "bank"), evgit.InitOptions{})
	if err != nil {
		panic(err)
	}
	defer repo.Close()
	if _, err := repo.SetModel(ctx, []byte(`
types:
  AccountOpened:  { apply: { owner: event.owner, balance: 0 } }
  MoneyDeposited: { apply: { balance: state.balance + event.amount } }
  MoneyWithdrawn:
    require: ["state.balance >= event.amount"]
    apply: { balance: state.balance - event.amount }
`), "ann"); err != nil {
		panic(err)
	}
	day := func(d int) time.Time { return time.Date(2026, 1, d, 9, 0, 0, 0, time.UTC) }
	for i, e := range []struct{ typ, data string }{
		{"AccountOpened", `{"owner":"Ann"}`},
		{"MoneyDeposited", `{"amount":100}`},
		{"MoneyWithdrawn", `{"amount":30}`},
		{"MoneyWithdrawn", `{"amount":500}`}, // more than the balance
	} {
		ev := evgit.EventInput{Stream: "acc-1", Type: e.typ, Data: json.RawMessage(e.data)}
		_, err := repo.Append(ctx, []evgit.EventInput{ev}, evgit.AppendOptions{Time: day(i + 1)})
		if errors.Is(err, evgit.ErrRule) {
			fmt.Println("refused:", err)
		} else if err != nil {
			panic(err)
		}
	}
	// The state at noon on January 2nd: after the deposit, before the
	// withdrawal.
	then, err := repo.State(ctx, "HEAD", "acc-1", evgit.StateOptions{AsOf: day(2).Add(3 * time.Hour)})
	if err != nil {
		panic(err)
	}
	now, err := repo.State(ctx, "HEAD", "acc-1", evgit.StateOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(then.Version, string(then.State))
	fmt.Println(now.Version, string(now.State))
	// Output:
	// refused: stream acc-1: MoneyWithdrawn: require "state.balance >= event.amount" failed
	// 2 {"balance":100,"owner":"Ann"}
	// 3 {"balance":70,"owner":"Ann"}
}

// Optimistic concurrency: read a stream, decide, and append only if the
// stream is still at the version read. When another writer got there
// first (an *ExpectError, matching ErrConflict), read again and decide
// again. An idempotency key makes the retry safe even when the first
// attempt's answer was lost: a *KeyReusedError (also ErrConflict) means
// the key was used with other events, which no retry mends.
func ExampleExpectError() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "evgit-example")
	defer os.RemoveAll(dir)
	repo, _, err := evgit.Init(ctx, filepath.Join(dir, "bank"), evgit.InitOptions{})
	if err != nil {
		panic(err)
	}
	defer repo.Close()
	deposit := func(amount int) evgit.EventInput {
		return evgit.EventInput{Stream: "acc-1", Type: "MoneyDeposited", Data: json.RawMessage(fmt.Sprintf(`{"amount":%d}`, amount))}
	}
	if _, err := repo.Append(ctx, []evgit.EventInput{deposit(100)}, evgit.AppendOptions{}); err != nil {
		panic(err)
	}
	read := func() uint64 {
		st, err := repo.State(ctx, "HEAD", "acc-1", evgit.StateOptions{})
		if err != nil {
			panic(err)
		}
		return st.Version
	}
	version := read()
	// Meanwhile another writer appends to the stream.
	if _, err := repo.Append(ctx, []evgit.EventInput{deposit(5)}, evgit.AppendOptions{}); err != nil {
		panic(err)
	}
	for attempt := 1; ; attempt++ {
		res, err := repo.Append(ctx, []evgit.EventInput{deposit(20)}, evgit.AppendOptions{
			Expect:         map[string]uint64{"acc-1": version},
			IdempotencyKey: "deposit-7f3a",
		})
		var moved *evgit.ExpectError
		if errors.As(err, &moved) {
			fmt.Printf("attempt %d: %v\n", attempt, err)
			version = read() // read again, decide again
			continue
		}
		if err != nil {
			panic(err) // a *KeyReusedError among others: no retry mends it
		}
		fmt.Printf("attempt %d: appended (duplicate %v); acc-1 at version %d\n", attempt, res.Duplicate, read())
		break
	}
	// Output:
	// attempt 1: stream acc-1 is at version 2, expected 1
	// attempt 2: appended (duplicate false); acc-1 at version 3
}

// TestReadmeRunsTheExample: README.md's Go program is bank, as it stands
// here, so what the README shows compiles and runs (a helper found the
// README's earlier snippet did not compile).
func TestReadmeRunsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fn := func(b []byte) string {
		s := string(b)
		i := strings.Index(s, "func bank(")
		if i < 0 {
			return ""
		}
		s = s[i:]
		return s[:strings.Index(s, "\n}\n")+3]
	}
	if got, want := fn(readme), fn(self); got == "" || got != want {
		t.Errorf("README.md's program is not example_test.go's bank:\n%s\nwant:\n%s", got, want)
	}
}
