package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type commitOptions struct {
	message        []string
	files          []string
	triples        []string
	branch         string
	expect         []string
	idempotencyKey string
	actor          string
	date           string
	json           bool
}

func newCommitCommand(g *globalOptions) *cobra.Command {
	var opts commitOptions
	cmd := &cobra.Command{
		Use:   "commit [-m MSG] [-f FILE|-] [STREAM TYPE JSON]...",
		Short: "Append one commit holding all the given events, atomically",
		Long: `Append one commit holding all the given events, atomically.

Each STREAM TYPE JSON triple is one event; -f adds the events of an NDJSON
file (- for standard input), after the triples, and may be given more than
once. More than one -m make paragraphs of the message, as in Git.`,
		// The arguments are checked before the flags' values, as every
		// other command's are: a wrong count is a usage error (exit 2)
		// whatever else is wrong (a helper's audit).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args)%3 != 0 {
				return usagef("events are given as STREAM TYPE JSON triples; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.triples = args
			return runCommit(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.message, "message", "m", nil, "the commit `MSG` (given more than once: its paragraphs)")
	f.StringArrayVarP(&opts.files, "file", "f", nil, "read events from the NDJSON `FILE` (- for standard input), after the triples and the files before")
	f.StringVarP(&opts.branch, "branch", "b", "", "append to `BRANCH` instead of the branch HEAD names")
	f.StringArrayVar(&opts.expect, "expect", nil, "require `STREAM=VERSION`, else exit 3 (0: the stream does not exist yet; repeatable)")
	f.StringVar(&opts.idempotencyKey, "idempotency-key", "", "write nothing if a commit with this `KEY` is on the branch")
	f.StringVar(&opts.actor, "actor", "", "who appends, a `NAME` (default $EVGIT_ACTOR, else the user name)")
	f.StringVar(&opts.date, "date", "", "the commit `TIME` (RFC 3339 or YYYY-MM-DD; default now)")
	f.BoolVar(&opts.json, "json", false, "print the result as JSON")
	return cmd
}

func runCommit(ctx context.Context, opts commitOptions, g *globalOptions) error {
	message := paragraphs(opts.message)
	appendOpts := evgit.AppendOptions{
		Branch:         opts.branch,
		Message:        message,
		Actor:          opts.actor,
		IdempotencyKey: opts.idempotencyKey,
	}
	if appendOpts.Actor == "" {
		appendOpts.Actor = g.actor()
	}
	t, err := timeFlag(opts.date)
	if err != nil {
		return err
	}
	appendOpts.Time = t
	expect, err := parseExpect(opts.expect)
	if err != nil {
		return err
	}
	appendOpts.Expect = expect
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	if opts.branch == "" {
		// Said before the input is read (a million lines took 1.4 s and
		// 900 MB to be refused after; a helper's audit); Append checks
		// again, as HEAD may move meanwhile.
		if b, err := repo.CurrentBranch(ctx); err == nil && b == "" {
			return invalidf("HEAD is detached; name the branch to commit to with -b")
		}
	}

	var events []evgit.EventInput
	for i := 0; i+2 < len(opts.triples); i += 3 {
		if strings.TrimSpace(opts.triples[i+2]) == "" {
			// Data may be left out of NDJSON, never given as no JSON.
			return invalidf("event %d: data: empty, want JSON (such as {})", i/3+1)
		}
		events = append(events, evgit.EventInput{
			Stream: opts.triples[i],
			Type:   opts.triples[i+1],
			Data:   json.RawMessage(opts.triples[i+2]),
		})
	}
	stdin := false
	for _, file := range opts.files {
		if file == "-" && stdin {
			return invalidf("-f -: standard input given twice")
		}
		stdin = stdin || file == "-"
		lines, err := readInput(g, file, func(r io.Reader) ([]evgit.InputLine, error) {
			return evgit.ReadLines(r, false)
		})
		if err != nil {
			if len(opts.files) > 1 {
				return fmt.Errorf("%s: %w", file, err)
			}
			return err
		}
		for _, l := range lines {
			events = append(events, l.Event)
		}
	}

	res, err := repo.Append(ctx, events, appendOpts)
	if err != nil {
		return err
	}
	if !res.Duplicate {
		g.written = "commit " + g.short(res.Commit)
		g.warnDateMoved(t, res.Time)
	}
	if opts.json {
		return jsonEncoder(g.stdout).Encode(res)
	}
	msg := message
	if res.Duplicate {
		// Print the commit that holds the key, as it was written.
		if obj, err := repo.ReadObject(ctx, res.Commit.String()); err == nil && obj.Commit != nil {
			msg = obj.Commit.Message
		}
	}
	fmt.Fprintf(g.stdout, "[%s %s] %s\n", res.Branch, g.short(res.Commit), summary(msg, res.Events))
	return nil
}

// paragraphs joins the values of -m given more than once as paragraphs
// of one message, as Git does; an empty one adds no paragraph.
func paragraphs(ms []string) string {
	return strings.Join(slices.DeleteFunc(slices.Clone(ms), func(m string) bool { return m == "" }), "\n\n")
}

// summary is a commit's one-line description: "MSG (N events)".
func summary(message string, events int) string {
	msg := evgit.Subject(message)
	if msg == "" {
		return fmt.Sprintf("(%d events)", events)
	}
	return fmt.Sprintf("%s (%d events)", msg, events)
}

// parseExpect parses --expect STREAM=VERSION flags.
func parseExpect(flags []string) (map[string]uint64, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := make(map[string]uint64, len(flags))
	var contradiction error
	for _, f := range flags {
		i := strings.LastIndexByte(f, '=')
		if i <= 0 {
			return nil, invalidf("--expect %q: want STREAM=VERSION", f)
		}
		v, err := strconv.ParseUint(f[i+1:], 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, invalidf("--expect %q: version %q is more than a version can be (%d)", f, f[i+1:], uint64(math.MaxUint64))
		} else if err != nil {
			return nil, invalidf("--expect %q: version %q is not a number >= 0", f, f[i+1:])
		}
		if old, ok := out[f[:i]]; ok && old != v && contradiction == nil {
			// Both cannot hold: one does not, whatever the stream's version.
			contradiction = &cliError{msg: fmt.Sprintf("--expect %s=%d and %s=%d: both cannot hold", f[:i], old, f[:i], v), sentinel: evgit.ErrConflict}
		}
		out[f[:i]] = v
	}
	if contradiction != nil {
		return nil, contradiction
	}
	return out, nil
}

// readInput opens FILE (or standard input for "-") and reads it with fn.
func readInput[T any](g *globalOptions, name string, fn func(io.Reader) (T, error)) (T, error) {
	if name == "-" {
		return fn(g.stdin)
	}
	if name == "" {
		// os.Open says "open : no such file or directory".
		var zero T
		return zero, invalidf("an empty file name (- is standard input)")
	}
	f, err := os.Open(g.path(name))
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return fn(f)
}

// timeFlag parses an optional time flag; zero when empty.
func timeFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := walk.ParseTime(s)
	if err == nil && t.IsZero() {
		// The library reads the zero time as "not given" (now); year 1 is
		// as far outside what evgit stores as 1600 is.
		return t, invalidf("time %s is outside the years 1678 to 2261 that evgit stores", t.Format(time.RFC3339))
	}
	return t, err
}

// asOfFlag parses --as-of. The zero time, which the library reads as
// "not given", is before every commit: the error the library gives for any
// time before the first commit.
func asOfFlag(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := walk.ParseTime(s)
	if err == nil && t.IsZero() {
		return t, &cliError{msg: "no commit at or before " + t.Format(time.RFC3339Nano), sentinel: evgit.ErrNotFound}
	}
	return t, err
}

// warnDateMoved says that the --date asked for (asked, zero when none)
// was before the parent's time, so the commit took got instead: SPEC §3
// (Time), said because the date asked for is not kept. A default time
// (now) moved up, a clock behind the parent's, is not the user's word,
// and goes unsaid.
func (g *globalOptions) warnDateMoved(asked, got time.Time) {
	if !asked.IsZero() && !got.Equal(asked) {
		fmt.Fprintf(g.stderr, "warning: --date %s is before the parent's time; the commit takes %s, as times never decrease along a branch\n", asked.UTC().Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339Nano))
	}
}
