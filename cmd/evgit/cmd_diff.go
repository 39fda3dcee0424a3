package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type diffOptions struct {
	a, b string
	json bool
}

func newDiffCommand(g *globalOptions) *cobra.Command {
	var opts diffOptions
	cmd := &cobra.Command{
		Use:   "diff A B | A..B",
		Short: "Show the streams whose state differs between two revisions",
		Long: `Show the streams whose state differs between revisions A and B, sorted by
name: added (only in B), removed (only in A) and changed, with both states,
in the manner of git diff:

    diff --evgit a/acc-1 b/acc-1
    --- a/acc-1 (version 3)
    +++ b/acc-1 (version 5)
    -{"balance":120,"frozen":false,"owner":"ann"}
    +{"balance":200,"frozen":false,"owner":"ann"}

An added stream's old side and a removed stream's new side are /dev/null.
As in Git, A..B is A B, and an empty side of it is HEAD.
With --json, NDJSON: {"stream","status","old"?:{"version","state"},"new"?:{...}}
a line, status being added (no "old"), removed (no "new") or changed.`,
		Args: func(cmd *cobra.Command, args []string) error {
			// One argument with ".." is a range, or a revision that
			// does not parse (A...B): refused as log refuses it, exit 1.
			if len(args) == 1 && strings.Contains(args[0], "..") {
				return nil
			}
			return cobra.ExactArgs(2)(cmd, args) // no diff against the work tree
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var ok bool
				if opts.a, opts.b, ok = walk.ParseRange(args[0]); !ok {
					opts.a, opts.b = args[0], args[0] // resolving it says what is wrong
				}
			} else {
				opts.a, opts.b = args[0], args[1]
			}
			return runDiff(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print NDJSON, one stream a line")
	return cmd
}

func runDiff(ctx context.Context, opts diffOptions, g *globalOptions) error {
	for _, rev := range []string{opts.a, opts.b} {
		if err := walk.Given(rev); err != nil {
			return err
		}
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(g.stdout, 64<<10)
	enc := jsonEncoder(w)
	for c, err := range repo.Diff(ctx, opts.a, opts.b) {
		if err != nil {
			return err
		}
		if opts.json {
			if err := enc.Encode(c); err != nil {
				return err
			}
			continue
		}
		writeStreamChange(w, c)
	}
	return w.Flush()
}

// writeStreamChange prints one stream's change as git diff prints a file's.
func writeStreamChange(w *bufio.Writer, c evgit.StreamChange) {
	fmt.Fprintf(w, "diff --evgit a/%s b/%s\n", c.Stream, c.Stream)
	side := func(mark, name string, v *evgit.StreamVersion) {
		if v == nil {
			fmt.Fprintf(w, "%s /dev/null\n", mark)
			return
		}
		fmt.Fprintf(w, "%s %s/%s (version %d)\n", mark, name, c.Stream, v.Version)
	}
	side("---", "a", c.Old)
	side("+++", "b", c.New)
	if c.Old != nil {
		fmt.Fprintf(w, "-%s\n", c.Old.State)
	}
	if c.New != nil {
		fmt.Fprintf(w, "+%s\n", c.New.State)
	}
}
