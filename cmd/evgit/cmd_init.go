package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
)

type initOptions struct {
	dir    string
	bare   bool
	branch string
}

func newInitCommand(g *globalOptions) *cobra.Command {
	var opts initOptions
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create an empty repository (DIR/.evgit), or reinitialize one",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.dir = "."
			if len(args) == 1 {
				// As Git refuses it: an empty name is no folder, and
				// taking it for the current one made a repository
				// where none was asked for (a helper's audit).
				if args[0] == "" {
					return invalidf("an empty folder name (. is the current folder)")
				}
				opts.dir = args[0]
			}
			return runInit(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVar(&opts.bare, "bare", false, "make DIR itself the repository, with no work tree")
	cmd.Flags().StringVarP(&opts.branch, "initial-branch", "b", "", "name of the initial `BRANCH` (default \"main\")")
	return cmd
}

func runInit(ctx context.Context, opts initOptions, g *globalOptions) error {
	repo, created, err := evgit.Init(ctx, g.path(opts.dir), evgit.InitOptions{Bare: opts.bare, Branch: opts.branch})
	if err != nil {
		return err
	}
	defer repo.Close()
	if created {
		fmt.Fprintf(g.stdout, "Initialized empty evgit repository in %s\n", repo.GitDir())
	} else {
		if opts.branch != "" {
			// As Git says it: a repository there keeps its HEAD.
			fmt.Fprintf(g.stderr, "warning: re-init: ignored --initial-branch=%s\n", opts.branch)
		}
		fmt.Fprintf(g.stdout, "Reinitialized existing evgit repository in %s\n", repo.GitDir())
	}
	return nil
}
