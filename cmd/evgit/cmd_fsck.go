package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/store"
)

type fsckOptions struct {
	json      bool
	snapshots bool
}

func newFsckCommand(g *globalOptions) *cobra.Command {
	var opts fsckOptions
	cmd := &cobra.Command{
		Use:   "fsck",
		Short: "Verify every object, link, ref and log file",
		Long: `Verify the repository: every object against its ID and its encoding,
every link (a commit's parents, events and reverted commits, a tree's
children and state blobs), the offset and time of each commit against its
first parent, every ref and reflog entry, the model, the snapshot and
idempotency records, and the checksum of every frame and index file.

Each problem is printed as one line naming the bad object, ref or file;
the exit code is 0 when nothing is wrong and 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runFsck(cmd.Context(), opts, g)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, `print one JSON document: {"ok","objects","problems"}`)
	cmd.Flags().BoolVar(&opts.snapshots, "snapshots", false, "also recompute every snapshot of the current model on each branch's first-parent line from the events and compare")
	return cmd
}

func runFsck(ctx context.Context, opts fsckOptions, g *globalOptions) error {
	var fopts evgit.FsckOptions
	repo, err := g.openRepo(ctx)
	if err != nil {
		if !errors.Is(err, evgit.ErrCorrupt) {
			return err
		}
		// Damage keeps the repository from opening: check what is left.
		gitDir, derr := g.gitDir()
		var rep *evgit.FsckReport
		if derr == nil {
			rep, derr = evgit.FsckDamaged(ctx, gitDir, fopts)
		}
		if derr != nil {
			if opts.json {
				// Too damaged even for that: still one document.
				rep := &evgit.FsckReport{Problems: []evgit.FsckProblem{{Kind: "repository", Message: err.Error()}}}
				if jerr := jsonEncoder(g.stdout).Encode(rep); jerr != nil {
					return jerr
				}
			}
			return err
		}
		if rep.OK {
			// Nothing skipped, yet the open failed: say why.
			rep.OK = false
			rep.Problems = append([]evgit.FsckProblem{{Kind: "repository", Message: err.Error()}}, rep.Problems...)
		}
		return reportFsck(opts, g, rep, gitDir, 0)
	}
	var bar *progressbar.ProgressBar
	if isTerminal(g.stderr) {
		fopts.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(g.stderr),
					progressbar.OptionSetDescription("Checking objects"),
					progressbar.OptionShowCount(),
					progressbar.OptionThrottle(100_000_000),
					progressbar.OptionClearOnFinish(),
				)
			}
			_ = bar.Set(done)
		}
	}
	rep, err := repo.Fsck(ctx, fopts)
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		return err
	}
	snaps := 0
	if opts.snapshots {
		branches, err := collect(repo.Branches(ctx))
		if err != nil {
			return err
		}
		for _, b := range branches {
			n, err := repo.VerifySnapshots(ctx, "refs/heads/"+b.Name)
			snaps += n
			if err != nil {
				rep.OK = false
				rep.Problems = append(rep.Problems, evgit.FsckProblem{Kind: "snapshot", Name: b.Name, Message: err.Error()})
			}
		}
	}
	return reportFsck(opts, g, rep, repo.GitDir(), snaps)
}

// reportFsck prints a report and returns the error its problems make.
func reportFsck(opts fsckOptions, g *globalOptions, rep *evgit.FsckReport, gitDir string, snaps int) error {
	if opts.json {
		if err := jsonEncoder(g.stdout).Encode(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(g.stderr, "error: %s\n", p)
		}
		// Tails an open cut stay in lost-found: a crash tore them, or
		// damage to the last frame looked like a tear. Not a problem of
		// the repository, which reads consistently without them.
		if kept, _ := os.ReadDir(filepath.Join(gitDir, store.LostFound)); len(kept) > 0 {
			what := "torn tails"
			if len(kept) == 1 {
				what = "torn tail"
			}
			fmt.Fprintf(g.stderr, "warning: .evgit/%s holds %d %s cut on open (the last is %s)\n", store.LostFound, len(kept), what, kept[len(kept)-1].Name())
		}
		if rep.OK {
			n := rep.Checked
			fmt.Fprintf(g.stdout, "Checked %d objects (%d commits, %d events, %d trees, %d blobs), %d refs, %d reflog entries, %d records: ok\n",
				rep.Objects, n.Commits, n.Events, n.Trees, n.Blobs, n.Refs, n.ReflogEntries, n.Records)
			if opts.snapshots {
				fmt.Fprintf(g.stdout, "Recomputed %d snapshots from the events: equal\n", snaps)
			}
		}
	}
	if !rep.OK {
		what := "problems"
		if len(rep.Problems) == 1 {
			what = "problem"
		}
		return &cliError{msg: fmt.Sprintf("fsck found %d %s", len(rep.Problems), what), sentinel: evgit.ErrCorrupt}
	}
	return nil
}
