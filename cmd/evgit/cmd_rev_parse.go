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
		Short: "Print the full commit ID a revision names",
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
	for _, rev := range opts.revs {
		if err := walk.Given(rev); err != nil {
			return err
		}
		id, err := repo.Resolve(ctx, rev)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.stdout, id)
	}
	return nil
}
