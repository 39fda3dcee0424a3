package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/evgit/evgit"
)

type importOptions struct {
	file   string
	branch string
	batch  int
	json   bool
}

func newImportCommand(g *globalOptions) *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Append the events of an NDJSON file as commits",
		Long: `Append the events of an NDJSON file as commits of --batch events each.

Lines that carry a "commit" object, as export writes them, start a commit
with that message, actor, time, idempotency key and reverts, so importing an export
into an empty repository reproduces the same commit IDs. Commits already on
the branch are skipped: run an interrupted import again to finish it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.file = args[0]
			return runImport(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.branch, "branch", "b", "", "append to `BRANCH` instead of the branch HEAD names")
	opts.batch = 1
	f.Var((*decimalInt)(&opts.batch), "batch", "`N` events a commit for lines without a commit header")
	f.BoolVar(&opts.json, "json", false, "print the summary as JSON")
	return cmd
}

func runImport(ctx context.Context, opts importOptions, g *globalOptions) error {
	if opts.batch < 1 {
		return invalidf("--batch %d: want a number >= 1", opts.batch)
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	importOpts := evgit.ImportOptions{Branch: opts.branch, Batch: opts.batch, Actor: g.actor()}
	var bar *progressbar.ProgressBar
	if isTerminal(g.stderr) {
		importOpts.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(g.stderr),
					progressbar.OptionSetDescription("Importing events"),
					progressbar.OptionShowCount(),
					progressbar.OptionThrottle(100_000_000),
					progressbar.OptionClearOnFinish(),
				)
			}
			_ = bar.Set(done)
		}
	}
	res, err := readInput(g, opts.file, func(r io.Reader) (*evgit.ImportResult, error) {
		return repo.Import(ctx, r, importOpts)
	})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		if res != nil {
			// Stopped part way (Ctrl-C, a full disk): say what landed.
			return fmt.Errorf("%w (%d commits landed before it stopped, head %s; run the import again to finish)", err, res.Commits, g.short(res.Head))
		}
		return err
	}
	if res.Commits > 0 {
		g.written = fmt.Sprintf("the import of %d commits, head %s,", res.Commits, g.short(res.Head))
	}
	warnRenames(g, res.Renamed)
	if opts.json {
		return jsonEncoder(g.stdout).Encode(res)
	}
	fmt.Fprintf(g.stdout, "Imported %d commits (%d events), head %s", res.Commits, res.Events, g.short(res.Head))
	if res.Skipped > 0 {
		fmt.Fprintf(g.stdout, "; %d commits were already imported", res.Skipped)
	}
	fmt.Fprintln(g.stdout)
	return nil
}

// warnRenames says on stderr, in one line, that commits were built with
// other IDs than their headers name: harmless for an export imported onto
// other history, but also the mark of an input cut inside a commit, whose
// last commit then lacks events (importing the whole input after would
// add that commit again, whole).
func warnRenames(g *globalOptions, renamed []evgit.Rename) {
	if len(renamed) == 0 {
		return
	}
	// In input order: the first says where, the last may be a commit the
	// input was cut inside.
	became := func(r evgit.Rename) string {
		return fmt.Sprintf("%s became %s at line %d", g.short(r.Declared), g.short(r.Built), r.Line)
	}
	what := fmt.Sprintf("a commit got another ID than its header names (%s)", became(renamed[0]))
	if n := len(renamed); n > 1 {
		what = fmt.Sprintf("%d commits got other IDs than their headers name (the first: %s; the last: %s)", n, became(renamed[0]), became(renamed[n-1]))
	}
	fmt.Fprintf(g.stderr, "warning: %s: the input is not the export of a whole line imported onto the history it came from\n", what)
}

// isTerminal reports whether w is a terminal, where progress is shown.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
