package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type checkoutOptions struct {
	rev     string
	asOf    string
	branch  string
	streams []string
	json    bool
}

func newCheckoutCommand(g *globalOptions) *cobra.Command {
	var opts checkoutOptions
	cmd := &cobra.Command{
		Use:   "checkout REV [--as-of TIME] [-b NEW] [-- STREAM...]",
		Short: "Write the state of every stream at a revision to the work tree and move HEAD",
		Long: `Rebuild the work tree at REV: one file <stream>.json per stream holding its
state (2-space indent, sorted keys, final newline). Files of streams absent at
REV are removed. Only files whose state changed since the last checkout, or
that were edited or deleted by hand, are written. HEAD moves to REV: attached
when REV is a branch, detached otherwise; -b NEW creates branch NEW at REV
and attaches HEAD to it (with no REV, at HEAD, as in Git).

REV - (or @{-1}) is what HEAD was on before the last checkout, as in Git:
that branch, attached, or that commit; @{-N} goes N checkouts back.

With -- STREAM..., only those streams' files are written and HEAD stays.
--as-of TIME takes the newest commit on REV's first-parent line at or before
TIME (HEAD detaches).`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case dash == -1 && len(args) == 0 && cmd.Flags().Changed("branch"):
				// checkout -b NEW: a new branch at HEAD.
			case dash == -1 && len(args) != 1:
				return usagef("checkout takes one revision, got %d arguments", len(args))
			case dash == 0:
				return usagef("checkout needs a revision before --")
			case dash > 1:
				return usagef("checkout takes one revision before --, got %d", dash)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.rev = "HEAD"
			if len(args) > 0 {
				if err := walk.Given(args[0]); err != nil {
					return err
				}
				opts.rev, opts.streams = args[0], args[1:]
				if opts.rev == "-" {
					opts.rev = "@{-1}" // as in Git: the branch checked out before
				}
			}
			return runCheckout(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.asOf, "as-of", "", "check out the newest commit on REV's first-parent line at or before `TIME`")
	f.StringVarP(&opts.branch, "branch", "b", "", "create branch `NEW` at REV and attach HEAD to it")
	f.BoolVar(&opts.json, "json", false, `print {"commit","branch" or "detached":true,"written","removed","unchanged"} (neither with -- STREAM...)`)
	return cmd
}

func runCheckout(ctx context.Context, opts checkoutOptions, g *globalOptions) error {
	asOf, err := asOfFlag(opts.asOf)
	if err != nil {
		return err
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	res, err := repo.Checkout(ctx, opts.rev, evgit.CheckoutOptions{AsOf: asOf, Branch: opts.branch, Streams: opts.streams, Actor: g.actor()})
	if err != nil {
		return err
	}
	if opts.json {
		warnMovedOn(g, res)
		return jsonEncoder(g.stdout).Encode(res)
	}
	// Like Git, the news goes to stderr; stdout stays empty.
	switch {
	case len(opts.streams) > 0:
		fmt.Fprintf(g.stderr, "Updated %d %s from %s\n", res.Written, plural(res.Written, "file", "files"), g.short(res.Commit))
		return nil
	case opts.branch != "":
		fmt.Fprintf(g.stderr, "Switched to a new branch '%s'\n", res.Branch)
	case res.Detached:
		fmt.Fprintf(g.stderr, "HEAD is now at %s\n", g.short(res.Commit))
	case res.Already:
		fmt.Fprintf(g.stderr, "Already on '%s'\n", res.Branch)
	default:
		fmt.Fprintf(g.stderr, "Switched to branch '%s'\n", res.Branch)
	}
	fmt.Fprintf(g.stderr, "%d %s written, %d removed, %d unchanged\n", res.Written, plural(res.Written, "file", "files"), res.Removed, res.Unchanged)
	warnMovedOn(g, res)
	return nil
}

// warnMovedOn says that the work tree shows an older commit than the
// branch HEAD was attached to, which others kept appending to, or that
// HEAD detached where the branch asked for was deleted meanwhile.
func warnMovedOn(g *globalOptions, res *evgit.CheckoutResult) {
	if !res.MovedOn.IsZero() {
		fmt.Fprintf(g.stderr, "warning: %s moved on to %s while its files were written; the work tree shows %s (checkout %s again to catch up)\n", res.Branch, g.short(res.MovedOn), g.short(res.Commit), res.Branch)
	}
	if res.Deleted != "" {
		fmt.Fprintf(g.stderr, "warning: the branch %s was deleted while its files were written; HEAD is detached at %s, the commit they show\n", res.Deleted, g.short(res.Commit))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
