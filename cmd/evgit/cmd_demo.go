package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/bankgen"
)

type demoOptions struct {
	dir string
}

func newDemoCommand(g *globalOptions) *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Walk through evgit on a small bank, in a new repository",
		Long: `Create a repository (in a temporary folder, or --dir), store the banking
model, commit some banking events and show what evgit makes of them: the
log, branches, refused and repeated commits, and balances now and back in
time. Each step prints the command that does it; the repository stays for
you to explore.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDemo(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().StringVar(&opts.dir, "dir", "", "create the repository in `DIR` (default: a new temporary folder)")
	return cmd
}

// demoSession runs evgit commands in the demo repository and prints each
// as a terminal session would show it. The first unexpected outcome is
// kept in err and turns the following steps into no-ops, so the demo
// reads as a straight list of steps.
type demoSession struct {
	ctx context.Context
	dir string
	out io.Writer
	err error
}

// say prints a line of commentary.
func (d *demoSession) say(format string, args ...any) {
	if d.err == nil {
		fmt.Fprintf(d.out, "\n# "+format+"\n", args...)
	}
}

// run runs "evgit ARGS..." in the demo repository and checks its exit code.
func (d *demoSession) run(wantCode int, args ...string) {
	if d.err != nil {
		return
	}
	fmt.Fprintf(d.out, "$ evgit %s\n", shellJoin(args))
	code := runWith(d.ctx, append([]string{"-C", d.dir}, args...), strings.NewReader(""), d.out, d.out, demoEnv)
	if code != exitOK {
		fmt.Fprintf(d.out, "(exit %d)\n", code)
	}
	if code != wantCode {
		d.err = fmt.Errorf("demo: 'evgit %s' exited %d, want %d", shellJoin(args), code, wantCode)
	}
}

func (d *demoSession) ok(args ...string) { d.run(exitOK, args...) }

// demoEnv is the environment the demo's commands see: a fixed actor, so
// the session prints the same everywhere.
func demoEnv(key string) string {
	switch key {
	case "EVGIT_ACTOR":
		return "demo"
	case "EVGIT_DIR":
		return "" // the demo's repository is the one it makes, never the user's
	}
	return os.Getenv(key)
}

func runDemo(ctx context.Context, opts demoOptions, g *globalOptions) error {
	dir := opts.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "evgit-demo-"); err != nil {
			return err
		}
	} else {
		dir = g.path(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, evgit.DirName)); err == nil {
		return invalidf("%s already holds a repository; give the demo a new --dir", dir)
	}
	d := &demoSession{ctx: ctx, dir: dir, out: g.stdout}
	fmt.Fprintf(d.out, "# A small bank kept in evgit, in %s\n$ cd %s\n", dir, dir)

	d.say("Create the repository and store the banking model (docs/guide.md §2).")
	d.ok("init")
	if err := os.WriteFile(filepath.Join(dir, "bank.yaml"), []byte(bankgen.Model), 0o644); err != nil {
		return err
	}
	d.ok("model", "set", "bank.yaml")

	d.say("Each commit lands all its events at once.")
	d.ok("commit", "-m", "Open accounts", "--actor", "teller-7", "--date", "2026-01-05T09:00:00Z",
		"acc-1", "AccountOpened", `{"owner":"ann"}`,
		"acc-2", "AccountOpened", `{"owner":"bob"}`)
	d.ok("commit", "-m", "Deposits", "--actor", "teller-7", "--date", "2026-01-06T09:00:00Z",
		"acc-1", "MoneyDeposited", `{"amount":120}`,
		"acc-2", "MoneyDeposited", `{"amount":80}`)
	d.ok("commit", "-m", "Cash withdrawal", "--actor", "teller-3", "--date", "2026-01-07T09:00:00Z",
		"--expect", "acc-1=2",
		"acc-1", "MoneyWithdrawn", `{"amount":30}`)

	d.say("The model refuses an overdraft (exit 4): nothing is written.")
	d.run(exitRule, "commit", "-m", "Overdraft", "--actor", "teller-3", "--date", "2026-01-07T10:00:00Z",
		"acc-2", "MoneyWithdrawn", `{"amount":500}`)

	d.say("A retried request with the same idempotency key commits once.")
	d.ok("commit", "-m", "Salary", "--actor", "payroll", "--date", "2026-01-08T09:00:00Z",
		"--idempotency-key", "pay-2026-01", "acc-2", "MoneyDeposited", `{"amount":15}`)
	d.ok("commit", "-m", "Salary", "--actor", "payroll", "--date", "2026-01-08T09:00:00Z",
		"--idempotency-key", "pay-2026-01", "acc-2", "MoneyDeposited", `{"amount":15}`)

	d.say("A writer that expected an older version of acc-1 is stopped (exit 3).")
	d.run(exitConflict, "commit", "-m", "Stale withdrawal", "--actor", "teller-9", "--expect", "acc-1=2",
		"acc-1", "MoneyWithdrawn", `{"amount":10}`)

	d.say("History, newest first.")
	d.ok("log", "--oneline")
	d.ok("log", "-n", "1")

	d.say("Branches name points in history.")
	d.ok("branch", "audit", "HEAD~2")
	d.ok("branch")

	d.say("State now, and back in time.")
	d.ok("show", "HEAD:acc-1")
	d.ok("show", "audit:acc-1")
	d.ok("show", "--as-of", "2026-01-05T12:00:00Z", "main:acc-2", "--json")
	d.run(exitError, "show", "HEAD:acc-3")

	d.say("What changed between two points: the streams whose state differs.")
	d.ok("diff", "audit", "main")

	d.say("Nothing is rewritten: a mistake is undone by compensating events.")
	d.ok("revert", "--actor", "teller-3", "--date", "2026-01-09T09:00:00Z", "HEAD~1")
	d.ok("show", "HEAD:acc-1")
	d.ok("log", "--oneline", "-n", "2")

	d.say("Check out the state as files, now and as of an earlier moment.")
	d.ok("checkout", "main")
	d.ok("ls-tree", "HEAD")
	d.ok("checkout", "--as-of", "2026-01-06T12:00:00Z", "main")
	d.ok("checkout", "main")

	d.say("Pack the storage and prove every hash (a history this small grows by the pack's indexes; a million events shrink from 323 MiB to 92 MiB).")
	d.ok("gc", "--prune=now")
	d.ok("fsck")
	if d.err != nil {
		return d.err
	}

	// Balances through the library, at HEAD and at the "Deposits" commit.
	repo, err := evgit.Open(ctx, filepath.Join(dir, evgit.DirName))
	if err != nil {
		return err
	}
	defer repo.Close()
	head, err := repo.Resolve(ctx, "HEAD")
	if err != nil {
		return err
	}
	earlier, err := repo.Resolve(ctx, "HEAD~2")
	if err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n# Balances at HEAD~2 (%s) and at HEAD (%s):\n", earlier.Short(), head.Short())
	tw := tabwriter.NewWriter(d.out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "stream\tat HEAD~2\tat HEAD")
	for _, stream := range []string{"acc-1", "acc-2"} {
		then, err := repo.StreamAt(ctx, earlier, stream)
		if err != nil {
			return err
		}
		now, err := repo.StreamAt(ctx, head, stream)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s (v%d)\t%s (v%d)\n", stream, then.State, then.Version, now.State, now.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(d.out, "\n# Explore it yourself (go install ./cmd/evgit puts evgit on your PATH): cd %s && evgit log\n", dir)
	return nil
}

// shellJoin quotes arguments as a POSIX shell would need them.
func shellJoin(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@~,+", r))
		}) < 0 {
			quoted[i] = a
			continue
		}
		quoted[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(quoted, " ")
}
