package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit/walk"
)

type revParseOptions struct {
	revs []string
}

func newRevParseCommand(g *globalOptions) *cobra.Command {
	var opts revParseOptions
	return &cobra.Command{
		Use:   "rev-parse REV...",
		Short: "Print the full commit ID a revision names (A..B: B, then ^A)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.revs = args
			return runRevParse(cmd.Context(), opts, g)
		},
	}
}

func runRevParse(ctx context.Context, opts revParseOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	// Every revision is resolved before anything is printed: a bad one
	// prints nothing.
	var out []string
	for _, rev := range opts.revs {
		if err := walk.Given(rev); err != nil {
			return err
		}
		// A range A..B prints B, then A excluded (^A), as git rev-parse
		// does.
		from, to, isRange := walk.ParseRange(rev)
		id, err := repo.Resolve(ctx, to)
		if err != nil {
			return err
		}
		out = append(out, id.String())
		if isRange {
			if id, err = repo.Resolve(ctx, from); err != nil {
				return err
			}
			out = append(out, "^"+id.String())
		}
	}
	for _, line := range out {
		fmt.Fprintln(g.stdout, line)
	}
	return nil
}
