package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type exportOptions struct {
	rev    string
	stream string
	output string
}

func newExportCommand(g *globalOptions) *cobra.Command {
	var opts exportOptions
	cmd := &cobra.Command{
		Use:   "export [REV | A..B]",
		Short: "Write the events, oldest first, as NDJSON that import reads back",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := walk.Given(args[0]); err != nil {
					return err
				}
				opts.rev = args[0]
			}
			return runExport(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.Var(&onceString{p: &opts.stream}, "stream", "only the events of `STREAM`")
	f.StringVarP(&opts.output, "output", "o", "", "write to `FILE` instead of standard output (- is standard output)")
	return cmd
}

func runExport(ctx context.Context, opts exportOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	exportOpts := evgit.ExportOptions{Range: opts.rev, Stream: opts.stream}
	if opts.output == "" || opts.output == "-" {
		// -o -: standard output, as - means standard input to import
		// and commit -f (a file named - is ./-).
		return repo.Export(ctx, g.stdout, exportOpts)
	}
	// Write beside the target and rename, so a failed export leaves no
	// half-written file behind.
	path := g.path(opts.output)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return invalidf("-o %s: is a folder, want a file", opts.output)
	}
	// A link is followed: the file it names is written, whole (made
	// when it does not exist yet, as a shell's redirection makes it).
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	} else if st, lerr := os.Lstat(path); lerr == nil && st.Mode()&os.ModeSymlink != 0 {
		if to, rerr := os.Readlink(path); rerr == nil {
			if !filepath.IsAbs(to) {
				to = filepath.Join(filepath.Dir(path), to)
			}
			path = to
		}
	}
	if inside(repo.GitDir(), path) {
		// Renamed over a segment or the format file, the export destroyed
		// the repository (a helper's audit).
		return invalidf("-o %s: inside the repository folder %s; write the export elsewhere", opts.output, repo.GitDir())
	}
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		// A device or a pipe: written into, never replaced by a file
		// renamed over it (-o /dev/null replaced the device).
		return exportInto(ctx, repo, path, opts.output, exportOpts)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return cannotWrite(opts.output, err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := repo.Export(ctx, f, exportOpts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// inside reports whether path lies in the folder dir, links resolved
// (path need not exist yet: its nearest folder that does is resolved).
func inside(dir, path string) bool {
	real := func(p string) string {
		p, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		rest := ""
		for {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				return filepath.Join(r, rest)
			}
			parent := filepath.Dir(p)
			if parent == p {
				return filepath.Join(p, rest)
			}
			rest = filepath.Join(filepath.Base(p), rest)
			p = parent
		}
	}
	rel, err := filepath.Rel(real(dir), real(path))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// exportInto writes an export into an existing file that is not a
// regular one (a device such as /dev/null, a named pipe), as a shell's
// redirection would.
func exportInto(ctx context.Context, repo *evgit.Repository, path, name string, opts evgit.ExportOptions) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return cannotWrite(name, err)
	}
	if err := repo.Export(ctx, f, opts); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cannotWrite names the output an export could not open, by the name the
// user gave: the path the error holds (a temporary file's, a link's
// target) means nothing to them.
func cannotWrite(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot write %s: %w", name, err)
}
