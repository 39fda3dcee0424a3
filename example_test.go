package evgit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/evgit/evgit"
)

// A repository from Go: two commits, the second guarded by the version
// its writer read, then the state at each.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "evgit-example")
	defer os.RemoveAll(dir)
	repo, _, err := evgit.Init(ctx, filepath.Join(dir, "bank"), evgit.InitOptions{})
	if err != nil {
		panic(err)
	}
	defer repo.Close() // also records snapshots that large commits left building

	_, err = repo.Append(ctx, []evgit.EventInput{
		{Stream: "acc-1", Type: "AccountOpened", Data: json.RawMessage(`{"owner":"Ann","balance":0}`)},
	}, evgit.AppendOptions{Message: "Open"})
	if err != nil {
		panic(err)
	}
	res, err := repo.Append(ctx, []evgit.EventInput{
		{Stream: "acc-1", Type: "MoneyDeposited", Data: json.RawMessage(`{"balance":120}`)},
	}, evgit.AppendOptions{Message: "Deposit", Expect: map[string]uint64{"acc-1": 1}})
	if err != nil {
		panic(err)
	}
	for _, rev := range []string{res.Commit.String(), "HEAD~1"} {
		st, err := repo.State(ctx, rev, "acc-1", evgit.StateOptions{})
		if err != nil {
			panic(err)
		}
		fmt.Println(st.Version, string(st.State))
	}
	// Output:
	// 2 {"balance":120,"owner":"Ann"}
	// 1 {"balance":0,"owner":"Ann"}
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
