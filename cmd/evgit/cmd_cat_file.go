package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit"
	"github.com/evgit/evgit/walk"
)

type catFileOptions struct {
	name   string
	kind   bool // -t
	size   bool // -s
	pretty bool // -p
}

func newCatFileCommand(g *globalOptions) *cobra.Command {
	var opts catFileOptions
	cmd := &cobra.Command{
		Use:   "cat-file (-t | -s | -p) ID",
		Short: "Print an object's kind, size or content",
		Args: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, on := range []bool{opts.kind, opts.size, opts.pretty} {
				if on {
					modes++
				}
			}
			if err := cobra.ExactArgs(1)(cmd, args); err != nil {
				return err
			}
			if modes != 1 {
				// Exit 1, not 2: SPEC §3 keeps 2 for an unknown flag or
				// a wrong number of arguments, "nothing else".
				return invalidf("cat-file needs exactly one of -t, -s, -p")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.name = args[0]
			return runCatFile(cmd.Context(), opts, g)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.kind, "type", "t", false, "print the object's kind")
	f.BoolVarP(&opts.size, "size", "s", false, "print the size of the object's body")
	f.BoolVarP(&opts.pretty, "pretty", "p", false, "print the object's content readably")
	return cmd
}

func runCatFile(ctx context.Context, opts catFileOptions, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	if err := walk.Given(opts.name); err != nil {
		return err // as Git refuses `git cat-file -p ""`
	}
	obj, err := repo.ReadObject(ctx, opts.name)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(g.stdout)
	switch {
	case opts.kind:
		fmt.Fprintln(w, obj.Kind)
	case opts.size:
		fmt.Fprintln(w, obj.Size)
	default:
		if err := printObject(w, obj); err != nil {
			return err
		}
	}
	return w.Flush()
}

// printObject writes an object readably: a commit as header lines and its
// message (like git cat-file -p), an event as its NDJSON line, a tree as
// its entries, a blob as it is.
func printObject(w *bufio.Writer, obj *evgit.ObjectInfo) error {
	switch {
	case obj.Commit != nil:
		c := obj.Commit
		for _, p := range c.Parents {
			fmt.Fprintf(w, "parent %s\n", p)
		}
		for _, e := range c.Events {
			fmt.Fprintf(w, "event %s\n", e)
		}
		fmt.Fprintf(w, "time %s\n", c.Time.UTC().Format(time.RFC3339Nano))
		fmt.Fprintf(w, "offset %d\n", c.Offset)
		fmt.Fprintf(w, "actor %s\n", c.Actor)
		if c.IdempotencyKey != "" {
			fmt.Fprintf(w, "key %s\n", c.IdempotencyKey)
		}
		for _, r := range c.Reverts {
			fmt.Fprintf(w, "reverts %s\n", r)
		}
		if c.Message != "" {
			fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.Message, "\n"))
		}
	case obj.Event != nil:
		e := obj.Event
		meta := e.Meta
		if meta == nil {
			meta = map[string]string{}
		}
		return jsonEncoder(w).Encode(struct {
			Stream string            `json:"stream"`
			Type   string            `json:"type"`
			Data   json.RawMessage   `json:"data"`
			Schema int               `json:"schema"`
			Meta   map[string]string `json:"meta"`
		}{e.Stream, e.Type, e.Data, e.Schema, meta})
	case obj.Tree != nil:
		t := obj.Tree
		if t.Leaf {
			for _, e := range t.Entries {
				fmt.Fprintf(w, "state %s %d\t%s\n", e.StateID, e.Version, e.Stream)
			}
			return nil
		}
		for i, child := range t.Children {
			if !child.IsZero() {
				fmt.Fprintf(w, "tree %s\t%x\n", child, i)
			}
		}
	default:
		w.Write(obj.Blob)
	}
	return nil
}
