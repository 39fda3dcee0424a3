package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/object"
	"github.com/evgit/evgit/walk"
)

type logOptions struct {
	rev         string
	max         int
	oneline     bool
	json        bool
	stream      string
	typ         string
	since       string
	until       string
	reverse     bool
	firstParent bool
	graph       bool
	none        bool // -n 0: show nothing, as git log does
}

func newLogCommand(g *globalOptions) *cobra.Command {
	var opts logOptions
	cmd := &cobra.Command{
		Use:   "log [REV | A..B]",
		Short: "Show commits, newest first",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := walk.Given(args[0]); err != nil {
					return err
				}
				opts.rev = args[0]
			}
			opts.none = cmd.Flags().Changed("max-count") && opts.max == 0
			return runLog(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	opts.max = -1
	f.VarP((*decimalInt)(&opts.max), "max-count", "n", "show at most `N` commits (-1: no limit); -N, as in git log -3, is short for -n N")
	f.BoolVar(&opts.oneline, "oneline", false, "one line a commit: short ID, message and event count")
	f.BoolVar(&opts.json, "json", false, "print NDJSON, one commit with its events a line")
	f.Var(&onceString{p: &opts.stream}, "stream", "only commits holding an event of `STREAM`")
	f.Var(&onceString{p: &opts.typ}, "type", "only commits holding an event of `TYPE`")
	f.StringVar(&opts.since, "since", "", "only commits at or after `TIME` (RFC 3339 or YYYY-MM-DD)")
	f.StringVar(&opts.until, "until", "", "only commits at or before `TIME` (RFC 3339 or YYYY-MM-DD)")
	f.BoolVar(&opts.reverse, "reverse", false, "oldest first")
	f.BoolVar(&opts.firstParent, "first-parent", false, "follow only the first parent of merges")
	f.BoolVar(&opts.graph, "graph", false, "draw the commit graph beside the log")
	return cmd
}

func runLog(ctx context.Context, opts logOptions, g *globalOptions) error {
	lo := evgit.LogOptions{
		Range:       opts.rev,
		Max:         max(opts.max, 0),
		Stream:      opts.stream,
		Type:        opts.typ,
		Reverse:     opts.reverse,
		FirstParent: opts.firstParent,
	}
	var err error
	// Any time is a bound, year 1 included: --since of year 1 keeps
	// everything, as no --since does; --until of year 1 keeps nothing.
	if opts.since != "" {
		if lo.Since, err = walk.ParseTime(opts.since); err != nil {
			return err
		}
	}
	if opts.until != "" {
		if lo.Until, err = walk.ParseTime(opts.until); err != nil {
			return err
		}
		if lo.Until.IsZero() {
			lo.Until = lo.Until.Add(time.Nanosecond) // the library's zero is "none"
		}
	}
	if opts.graph && opts.reverse {
		return invalidf("--graph and --reverse cannot be used together")
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	if opts.none {
		// Nothing to show, but the revision and filters are checked, as
		// git log -n 0 checks them.
		lo.Max = 1
		for _, err := range repo.Log(ctx, lo) {
			return err
		}
		return nil
	}
	w := bufio.NewWriterSize(g.stdout, 64<<10)
	switch {
	case opts.json:
		err = logJSON(ctx, repo, lo, w)
	case opts.graph:
		err = logGraph(ctx, repo, lo, opts.oneline, w)
	case opts.oneline:
		err = logOneline(ctx, repo, lo, w)
	default:
		err = logFull(ctx, repo, lo, w)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	return streamHint(ctx, repo, opts.rev, err)
}

// streamHint adds to an unknown revision that names a stream at HEAD how
// to log that stream: git log PATH is what a Git user tries.
func streamHint(ctx context.Context, repo *evgit.Repository, rev string, err error) error {
	if !errors.Is(err, walk.ErrUnknownRevision) || object.ValidateStream(rev) != nil {
		return err
	}
	if _, serr := repo.State(ctx, "HEAD", rev, evgit.StateOptions{}); serr != nil {
		return err
	}
	return fmt.Errorf("%w (a stream: log --stream %s)", err, rev)
}

// logJSON prints NDJSON: one CommitInfo, with stream versions, a line.
func logJSON(ctx context.Context, repo *evgit.Repository, lo evgit.LogOptions, w *bufio.Writer) error {
	lo.Versions = true
	enc := jsonEncoder(w)
	for info, err := range repo.Log(ctx, lo) {
		if err != nil {
			return err
		}
		if err := enc.Encode(info); err != nil {
			return err
		}
	}
	return nil
}

// logOneline prints "<short> <message> (N events)" a commit. It never
// loads events (unless a filter needs them), so it stays fast on long
// histories.
func logOneline(ctx context.Context, repo *evgit.Repository, lo evgit.LogOptions, w *bufio.Writer) error {
	abbrev := repo.Abbrev()
	for e, err := range repo.LogEntries(ctx, lo, nil) {
		if err != nil {
			return err
		}
		writeOneline(w, e.ID, e.Commit, abbrev)
	}
	return nil
}

// writeOneline prints a commit's line of log --oneline, its ID cut to
// abbrev hex digits.
func writeOneline(w *bufio.Writer, id object.ID, c *object.Commit, abbrev int) {
	var buf [2 * object.IDSize]byte
	hexID(buf[:], id)
	w.Write(buf[:abbrev])
	w.WriteByte(' ')
	if msg := evgit.Subject(c.Message); msg != "" {
		w.WriteString(msg)
		w.WriteByte(' ')
	}
	w.WriteByte('(')
	w.WriteString(strconv.Itoa(len(c.Events)))
	w.WriteString(" events)\n")
}

// hexID writes id as hex into dst without allocating.
func hexID(dst []byte, id object.ID) {
	const digits = "0123456789abcdef"
	for i, b := range id {
		dst[2*i], dst[2*i+1] = digits[b>>4], digits[b&15]
	}
}

// logFull prints commits as git log does, each followed by its events.
func logFull(ctx context.Context, repo *evgit.Repository, lo evgit.LogOptions, w *bufio.Writer) error {
	first, abbrev := true, repo.Abbrev()
	for info, err := range repo.Log(ctx, lo) {
		if err != nil {
			return err
		}
		if !first {
			w.WriteByte('\n')
		}
		first = false
		writeCommit(w, info, "", "", abbrev)
	}
	return nil
}

// logGraph prints the log with the commit graph on its left.
func logGraph(ctx context.Context, repo *evgit.Repository, lo evgit.LogOptions, oneline bool, w *bufio.Writer) error {
	var gw walk.GraphWriter
	skip := func(id object.ID, parents []object.ID) { gw.Skip(id, parents) }
	first, abbrev := true, repo.Abbrev()
	for e, err := range repo.LogEntries(ctx, lo, skip) {
		if err != nil {
			return err
		}
		pad := gw.Padding()
		before, prefix := gw.Next(e.ID, e.Parents)
		if !oneline && !first {
			w.WriteString(strings.TrimRight(pad, " "))
			w.WriteByte('\n')
		}
		first = false
		for _, line := range before {
			w.WriteString(line)
			w.WriteByte('\n')
		}
		if oneline {
			w.WriteString(prefix)
			writeOneline(w, e.ID, e.Commit, abbrev)
			continue
		}
		info, err := entryInfo(ctx, repo, e)
		if err != nil {
			return err
		}
		writeCommit(w, info, prefix, gw.Padding(), abbrev)
	}
	return nil
}

// entryInfo turns a walk entry into a CommitInfo with its events (without
// stream versions), reading events the walk did not load.
func entryInfo(ctx context.Context, repo *evgit.Repository, e walk.Entry) (*evgit.CommitInfo, error) {
	c := e.Commit
	info := &evgit.CommitInfo{ID: e.ID, Parents: c.Parents, Time: c.Time, Actor: c.Actor, Message: c.Message, Offset: c.Offset, Reverts: c.Reverts}
	info.Events = make([]evgit.EventInfo, len(c.Events))
	for i, id := range c.Events {
		var ev *object.Event
		if e.Events != nil {
			ev = e.Events[i]
		} else {
			obj, err := repo.ReadObject(ctx, id.String())
			if err != nil {
				return nil, err
			}
			if obj.Event == nil {
				return nil, errors.New("commit " + e.ID.Short() + " names " + id.Short() + ", which is a " + obj.Kind.String() + ", not an event")
			}
			ev = obj.Event
		}
		info.Events[i] = evgit.EventInfo{ID: id, Stream: ev.Stream, Type: ev.Type, Schema: ev.Schema, Data: ev.Data, Meta: ev.Meta}
	}
	return info, nil
}

// writeCommit prints a commit in git log's medium format, followed by one
// line per event. The first line starts with first, the others with pad
// (the graph's columns).
func writeCommit(w *bufio.Writer, info *evgit.CommitInfo, first, pad string, abbrev int) {
	line := func(prefix string, parts ...string) {
		s := prefix
		for _, p := range parts {
			s += p
		}
		w.WriteString(strings.TrimRight(s, " "))
		w.WriteByte('\n')
	}
	line(first, "commit ", info.ID.String())
	if len(info.Parents) > 1 {
		shorts := make([]string, len(info.Parents))
		for i, p := range info.Parents {
			shorts[i] = p.String()[:abbrev]
		}
		line(pad, "Merge: ", strings.Join(shorts, " "))
	}
	line(pad, "Actor: ", info.Actor)
	line(pad, "Date:   ", info.Time.UTC().Format(time.RFC3339Nano))
	for _, r := range info.Reverts {
		line(pad, "Reverts: ", r.String())
	}
	line(pad)
	if info.Message != "" {
		for msgLine := range strings.Lines(strings.TrimRight(info.Message, "\n")) {
			line(pad, "    ", strings.TrimSuffix(msgLine, "\n"))
		}
		if len(info.Events) > 0 {
			line(pad)
		}
	}
	for _, e := range info.Events {
		line(pad, "    ", e.Stream, " ", e.Type, " ", string(e.Data))
	}
}
