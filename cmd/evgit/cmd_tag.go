package main

import (
	"bufio"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

type tagOptions struct {
	args   []string
	delete bool
}

func newTagCommand(g *globalOptions) *cobra.Command {
	var opts tagOptions
	cmd := &cobra.Command{
		Use:   "tag [NAME [REV]] [-d NAME]",
		Short: "List, create or delete tags",
		Args:  refArgs(&opts.delete),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			return runTag(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVarP(&opts.delete, "delete", "d", false, "delete the named tags")
	return cmd
}

func runTag(ctx context.Context, opts tagOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	switch {
	case opts.delete:
		olds, err := repo.DeleteTags(ctx, opts.args, g.actor())
		if err != nil {
			return err
		}
		return printDeleted(g, opts.args, olds, false, func(name string, old object.ID) string {
			return fmt.Sprintf("Deleted tag '%s' (was %s)", name, g.short(old))
		})
	case len(opts.args) > 0:
		rev := optionalArg(opts.args, 1)
		if len(opts.args) > 1 {
			if err := walk.Given(rev); err != nil {
				return err
			}
		}
		_, err := repo.CreateTag(ctx, opts.args[0], rev, g.actor())
		return err
	}
	tags, err := collect(repo.Tags(ctx))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(g.stdout)
	for _, t := range tags {
		fmt.Fprintln(w, t.Name)
	}
	return w.Flush()
}
