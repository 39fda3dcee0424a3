package main

import (
	"bufio"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit/walk"
)

type lsTreeOptions struct {
	rev  string
	json bool
}

func newLsTreeCommand(g *globalOptions) *cobra.Command {
	var opts lsTreeOptions
	cmd := &cobra.Command{
		Use:   "ls-tree REV",
		Short: "List every stream at a revision with its version and state hash",
		Long: `List every stream at REV, sorted by name, one a line:

    <version> <state hash>TAB<stream>

The state hash is the ID the stream's state (its canonical JSON) has as a
blob, computed whether or not it is stored: cat-file prints it only for a
state over 64 bytes that a recorded snapshot holds.
With --json, NDJSON: {"stream","version","hash"} a line.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.rev = args[0]
			return runLsTree(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print NDJSON, one stream a line")
	return cmd
}

func runLsTree(ctx context.Context, opts lsTreeOptions, g *globalOptions) error {
	if err := walk.Given(opts.rev); err != nil {
		return err
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(g.stdout, 64<<10)
	enc := jsonEncoder(w)
	for e, err := range repo.Tree(ctx, opts.rev) {
		if err != nil {
			return err
		}
		if opts.json {
			if err := enc.Encode(e); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(w, "%d %s\t%s\n", e.Version, e.Hash, e.Stream)
	}
	return w.Flush()
}
