package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/object"
)

// showStreamState prints the state of a stream at a revision (show
// REV:STREAM): as indented JSON with a final newline, the bytes checkout
// writes, or with --json {"stream","version","state"}. --as-of picks the
// commit by time, --version N the state after the stream's N-th event.
func showStreamState(ctx context.Context, opts showOptions, g *globalOptions, rev, stream string) error {
	asOf, err := asOfFlag(opts.asOf)
	if err != nil {
		return err
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	st, err := repo.State(ctx, rev, stream, evgit.StateOptions{AsOf: asOf, Version: opts.version})
	if err != nil {
		// The name of a work tree's file, where its stream's was meant.
		if base, ok := strings.CutSuffix(stream, ".json"); ok && errors.Is(err, evgit.ErrInvalid) && object.ValidateStream(base) == nil {
			return fmt.Errorf("%w (%s is the work tree's file of stream %s: show %s:%s)", err, stream, base, rev, base)
		}
		return err
	}
	if opts.json {
		return jsonEncoder(g.stdout).Encode(st)
	}
	b, err := evgit.StateFile(st.State)
	if err != nil {
		return err
	}
	_, err = g.stdout.Write(b)
	return err
}
