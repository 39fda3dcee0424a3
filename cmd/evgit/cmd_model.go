package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/evgit/evgit/model"
)

type modelSetOptions struct {
	file string
}

func newModelCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Store or print the model that folds events into state",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("model needs a command: set FILE, or show")
		},
	}
	var setOpts modelSetOptions
	cmd.AddCommand(
		&cobra.Command{
			Use:   "set FILE|-",
			Short: "Parse and store a model (YAML or JSON)",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				setOpts.file = args[0]
				return runModelSet(cmd.Context(), setOpts, g)
			},
		},
		&cobra.Command{
			Use:   "show",
			Short: "Print the stored model",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				return runModelShow(cmd.Context(), g)
			},
		},
	)
	return cmd
}

func runModelSet(ctx context.Context, opts modelSetOptions, g *globalOptions) error {
	src, err := readInput(g, opts.file, io.ReadAll)
	if err != nil {
		return err
	}
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	if _, err = repo.SetModel(ctx, src, g.actor()); err != nil {
		return err
	}
	if m, err := model.Parse(src); err == nil {
		for _, w := range m.Warnings() {
			fmt.Fprintf(g.stderr, "warning: %s\n", w)
		}
	}
	return nil
}

func runModelShow(ctx context.Context, g *globalOptions) error {
	repo, err := g.openRepo(ctx)
	if err != nil {
		return err
	}
	m, _, err := repo.Model(ctx)
	if err != nil {
		return err
	}
	if m == nil {
		return notFoundf("no model is set; store one with 'evgit model set FILE'")
	}
	_, err = g.stdout.Write(m.Source())
	return err
}
