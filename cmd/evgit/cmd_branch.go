package main

import (
	"bufio"
	"context"
	"fmt"
	"iter"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

// refArgs checks the arguments of branch and tag: one name or more to
// delete, else at most NAME and REV.
func refArgs(del *bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if *del {
			return cobra.MinimumNArgs(1)(cmd, args)
		}
		return cobra.MaximumNArgs(2)(cmd, args)
	}
}

// optionalArg returns args[i], or "" when there are fewer arguments.
func optionalArg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

type branchOptions struct {
	args   []string
	delete bool
	force  bool // -D: delete whatever the branch holds
	json   bool
}

func newBranchCommand(g *globalOptions) *cobra.Command {
	var opts branchOptions
	cmd := &cobra.Command{
		Use:   "branch [NAME [REV]] [-d NAME] [-D NAME]",
		Short: "List, create or delete branches",
		Long: `List, create or delete branches.

-d deletes a branch only when HEAD's commit holds its commit (it is merged
into HEAD), as in Git: gc would drop commits no ref reaches. -D deletes it
whatever it holds.`,
		Args: func(cmd *cobra.Command, args []string) error {
			// Args are checked before the command runs: -D deletes too.
			opts.delete = opts.delete || opts.force
			return refArgs(&opts.delete)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.args = args
			return runBranch(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVarP(&opts.delete, "delete", "d", false, "delete the named branches, when merged into HEAD")
	cmd.Flags().BoolVarP(&opts.force, "force-delete", "D", false, "delete the named branches, whatever they hold")
	cmd.Flags().BoolVar(&opts.json, "json", false, "print JSON (NDJSON when listing)")
	return cmd
}

func runBranch(ctx context.Context, opts branchOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	switch {
	case opts.delete:
		olds, err := repo.DeleteBranches(ctx, opts.args, g.actor(), !opts.force)
		if err != nil {
			return err
		}
		return printDeleted(g, opts.args, olds, opts.json, func(name string, old object.ID) string {
			return fmt.Sprintf("Deleted branch %s (was %s).", name, g.short(old))
		})
	case len(opts.args) > 0:
		rev := optionalArg(opts.args, 1)
		if len(opts.args) > 1 {
			if err := walk.Given(rev); err != nil {
				return err
			}
		}
		id, err := repo.CreateBranch(ctx, opts.args[0], rev, g.actor())
		if err != nil {
			return err
		}
		if opts.json {
			return jsonEncoder(g.stdout).Encode(evgit.Ref{Name: opts.args[0], Commit: id})
		}
		return nil
	}
	branches, err := collect(repo.Branches(ctx))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(g.stdout)
	if opts.json {
		enc := jsonEncoder(w)
		for _, b := range branches {
			if err := enc.Encode(b); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	current, err := repo.CurrentBranch(ctx)
	if err != nil {
		return err
	}
	if current == "" {
		if id, err := repo.Resolve(ctx, "HEAD"); err == nil {
			fmt.Fprintf(w, "* (HEAD detached at %s)\n", g.short(id))
		}
	}
	for _, b := range branches {
		mark := "  "
		if b.Current {
			mark = "* "
		}
		fmt.Fprintf(w, "%s%s\n", mark, b.Name)
	}
	return w.Flush()
}

// collect gathers what a library iterator yields, stopping at its error.
func collect[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// printDeleted says which refs were deleted, and what each named. The
// names are deleted all or none (a helper's audit: Git deletes those it
// can and reports the others, which left half of a bad command done):
// a name given twice is said once.
func printDeleted(g *globalOptions, names []string, olds []object.ID, asJSON bool, deleted func(name string, old object.ID) string) error {
	said := map[string]bool{}
	for i, name := range names {
		if said[name] {
			continue
		}
		said[name] = true
		old := olds[i]
		if asJSON {
			if err := jsonEncoder(g.stdout).Encode(evgit.Ref{Name: name, Commit: old}); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintln(g.stdout, deleted(name, old))
	}
	return nil
}
