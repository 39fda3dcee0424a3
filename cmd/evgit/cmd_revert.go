package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type revertOptions struct {
	rev          string
	message      []string
	emptyMessage bool // -m "": the message is empty, not the default
	branch       string
	actor        string
	date         string
	key          string
	json         bool
}

func newRevertCommand(g *globalOptions) *cobra.Command {
	var opts revertOptions
	cmd := &cobra.Command{
		Use:   "revert REV | A..B",
		Short: "Append one commit of compensating events that undo a commit",
		Long: `Append one commit of compensating events for the events of REV, last
first; a range A..B reverts every commit in it, newest first, in one commit.

A type the model names is undone by its revert rule (a deposit by a
withdrawal), checked by the model's require rules like any event. Any
other event is a merge patch, undone by the patch that restores the fields
it changed, even where a later event changed one of them since: a warning
names each such field. Nothing is written when an event cannot be undone.
More than one -m make paragraphs of the message, as for commit.

A revert undoes only what its branch has: a commit that is not on the
branch's line (made on another branch) is refused, exit 1. A revert that
would undo a commit the branch has undone already (a second refund) is
refused, exit 1, naming the revert in effect: revert that one first to put
the commit back.

--idempotency-key makes a retry safe: if a commit of the branch holds the
key with the same compensating events, nothing is written and that commit
is printed ("duplicate":true with --json); with other events (a retry of
revert HEAD, where HEAD is now the revert), exit 3.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.rev = args[0]
			opts.emptyMessage = cmd.Flags().Changed("message") && paragraphs(opts.message) == ""
			return runRevert(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.message, "message", "m", nil, "the commit `MSG` (default: Revert \"<subject of REV>\"; given more than once: its paragraphs)")
	f.StringVarP(&opts.branch, "branch", "b", "", "append to `BRANCH` instead of the branch HEAD names")
	f.StringVar(&opts.actor, "actor", "", "who appends, a `NAME` (default $EVGIT_ACTOR, else the user name)")
	f.StringVar(&opts.date, "date", "", "the commit `TIME` (RFC 3339 or YYYY-MM-DD; default now)")
	f.StringVar(&opts.key, "idempotency-key", "", "write nothing if a commit with this `KEY` and the same compensations is on the branch")
	f.BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runRevert(ctx context.Context, opts revertOptions, g *globalOptions) error {
	if err := walk.Given(opts.rev); err != nil {
		return err
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	when, err := timeFlag(opts.date)
	if err != nil {
		return err
	}
	actor := opts.actor
	if actor == "" {
		actor = g.actor()
	}
	res, err := repo.Revert(ctx, opts.rev, evgit.RevertOptions{
		Branch:         opts.branch,
		Message:        paragraphs(opts.message),
		EmptyMessage:   opts.emptyMessage,
		Actor:          actor,
		Time:           when,
		IdempotencyKey: opts.key,
	})
	if err != nil {
		return err
	}
	if !res.Duplicate {
		g.written = "commit " + g.short(res.Commit)
		g.warnDateMoved(when, res.Time)
	}
	for _, o := range res.Overwrites {
		fmt.Fprintf(g.stderr, "warning: %s\n", o)
	}
	if opts.json {
		return jsonEncoder(g.stdout).Encode(res)
	}
	fmt.Fprintf(g.stdout, "[%s %s] %s\n", res.Branch, g.short(res.Commit), summary(res.Message, res.Events))
	return nil
}
