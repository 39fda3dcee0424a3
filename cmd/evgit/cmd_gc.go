package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
)

type gcOptions struct {
	prune string
	json  bool
}

func newGCCommand(g *globalOptions) *cobra.Command {
	var opts gcOptions
	cmd := &cobra.Command{
		Use:   "gc [--prune=DURATION|now]",
		Short: "Repack reachable objects and drop unreachable ones",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 && opts.prune == pruneBare {
				// As in Git, --prune takes its value after "=": with a
				// space, the value reads as a command.
				return usagef("--prune takes its value after =: --prune=%s", args[0])
			}
			return cobra.NoArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.prune == pruneBare {
				opts.prune = "" // --prune alone, as in Git, is the default grace
			}
			return runGC(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().StringVar(&opts.prune, "prune", "", "drop unreachable objects older than `DURATION` (now, never, 36h, 3d, 2w; default 2w, as with --prune alone or --prune=default)")
	// --prune given without a value: told apart from --prune=2w, whose
	// value an argument after it does not stand for.
	cmd.Flags().Lookup("prune").NoOptDefVal = pruneBare
	cmd.Flags().BoolVar(&opts.json, "json", false, "print the figures as JSON")
	return cmd
}

// pruneBare is --prune's value when it is given without one (and
// --prune=default): the default grace.
const pruneBare = "default"

func runGC(ctx context.Context, opts gcOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	st, err := repo.GC(ctx, evgit.GCOptions{Prune: opts.prune})
	if err != nil {
		return err
	}
	if st.DamagedFrames > 0 {
		fmt.Fprintf(g.stderr, "warning: dropped %d damaged frame(s) of the pack; nothing reachable was in them\n", st.DamagedFrames)
	}
	if st.SnapshotsDamaged > 0 {
		fmt.Fprintf(g.stderr, "warning: dropped %d snapshot(s) whose trees were damaged (derived data: states are rebuilt from the events)\n", st.SnapshotsDamaged)
	}
	if opts.json {
		return jsonEncoder(g.stdout).Encode(st)
	}
	fmt.Fprintf(g.stdout, "Size before: %s\nSize after:  %s\nObjects packed: %d, unreachable dropped: %d, snapshots kept: %d, thinned: %d\n",
		humanBytes(st.BytesBefore), humanBytes(st.BytesAfter), st.Objects, st.Dropped, st.SnapshotsKept, st.SnapshotsDropped)
	return nil
}

// humanBytes prints a size the way du -h does, with the exact count.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB (%d bytes)", float64(n)/float64(div), "KMGTPE"[exp], n)
}
