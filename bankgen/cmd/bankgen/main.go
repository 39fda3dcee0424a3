// Command bankgen writes a deterministic banking workload as NDJSON.
//
//	go run ./bankgen/cmd/bankgen -n 100000 -accounts 10000 -seed 1 > events.ndjson
//
// With -model FILE it also writes the banking model YAML the events conform to.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/evgit/evgit/bankgen"
)

func main() {
	n := flag.Int("n", 100000, "number of events")
	accounts := flag.Int("accounts", 10000, "number of account streams")
	seed := flag.Uint64("seed", 1, "random seed")
	skew := flag.Float64("skew", bankgen.DefaultSkew, "Zipf exponent of account popularity")
	step := flag.Duration("step", bankgen.DefaultStep, "business time between events")
	out := flag.String("o", "", "output file (default stdout)")
	model := flag.String("model", "", "also write the banking model YAML to this file")
	flag.Parse()
	if err := run(*out, *model, bankgen.Config{
		Seed: *seed, Events: *n, Accounts: *accounts, Skew: *skew, Step: *step,
		Start: bankgen.DefaultStart,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "bankgen:", err)
		os.Exit(1)
	}
}

func run(out, model string, cfg bankgen.Config) error {
	if cfg.Events < 0 || cfg.Accounts < 1 {
		return fmt.Errorf("-n must be >= 0 and -accounts >= 1")
	}
	if model != "" {
		if err := os.WriteFile(model, []byte(bankgen.Model), 0o644); err != nil {
			return err
		}
	}
	if out == "" {
		return bankgen.Write(os.Stdout, cfg)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := bankgen.Write(f, cfg); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "bankgen: %d events to %s in %v\n", cfg.Events, out, time.Since(start).Round(time.Millisecond))
	return nil
}
