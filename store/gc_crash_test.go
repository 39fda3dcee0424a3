package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// runWithGC runs the crash workload, adds commits no ref reaches, runs
// gc (dropping them with prune, keeping them in grace without), then
// commits once more.
func (w *crashWorkload) runWithGC(prune bool) error {
	if err := w.run(); err != nil {
		return err
	}
	w.s.waitSeal()
	w.step = "orphans"
	err := w.s.Update(context.Background(), func(tx *Tx) error {
		head, _, _ := tx.Resolve(mainRef)
		p := head
		for range 3 {
			p = w.build(tx, p, 2, "")
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.s.waitSeal()
	w.step = "gc"
	if _, err := w.s.GC(context.Background(), GCOptions{PruneNow: prune}); err != nil {
		return err
	}
	w.step = "after gc"
	return w.commit(1, "after-gc-key")
}

// A power loss at any file system call of a gc (every call and every
// crash mode with -long; one mode a call otherwise), with and without
// pruning, loses no acknowledged commit, key or reflog entry, leaves a
// log that checks out and takes a commit, and a second gc after recovery
// keeps all of it. Written by a helper's audit of gc.
func TestGCPowerLossSweep(t *testing.T) {
	for _, prune := range []bool{true, false} {
		probe := newFaultFS()
		w := newCrashWorkload(probe, scratchDir(t))
		require.NoError(t, w.run())
		w.s.waitSeal()
		start := probe.calls()
		w.close()
		probe = newFaultFS()
		w = newCrashWorkload(probe, scratchDir(t))
		require.NoError(t, w.runWithGC(prune))
		w.s.waitSeal()
		total := probe.calls()
		w.close()
		var failures []string
		for k := start; k <= total; k++ {
			modes := []crashMode{crashMode(k % int(numCrashModes))}
			if long() {
				modes = modes[:0]
				for m := range numCrashModes {
					modes = append(modes, m)
				}
			}
			for _, m := range modes {
				if err := gcTrial(t, k, m, prune); err != nil {
					failures = append(failures, fmt.Sprintf("k=%d mode=%s prune=%v: %v", k, m, prune, err))
				}
			}
		}
		for i, f := range failures {
			if i == 10 {
				t.Errorf("... and %d more", len(failures)-10)
				break
			}
			t.Error(f)
		}
	}
}

// gcTrial runs the gc workload with a power loss in the given mode at
// file system call k, then checks what is on the disk after it.
func gcTrial(t *testing.T, k int, mode crashMode, prune bool) error {
	root, after := scratchDir(t), scratchDir(t)
	defer os.RemoveAll(root)
	defer os.RemoveAll(after)
	fsys := newFaultFS()
	w := newCrashWorkload(fsys, root)
	rng := rand.New(rand.NewPCG(5, uint64(k)))
	var reached bool
	var crashErr error
	var at fsCall
	fsys.before = func(c fsCall) {
		if c.N != k {
			return
		}
		reached, at = true, c
		crashErr = fsys.crash(root, after, mode, rng)
		fsys.mu.Lock()
		fsys.dead = true
		fsys.mu.Unlock()
	}
	werr := w.runWithGC(prune)
	w.close()
	if pe := (*panicError)(nil); errors.As(werr, &pe) {
		return werr
	}
	if !reached {
		return nil
	}
	if crashErr != nil {
		return crashErr
	}
	check := repoCheck{dir: filepath.Join(after, ".evgit"), initDone: true, acked: w.acked, keys: w.keys, exact: true, extra: 1}
	if _, err := verifyRepo(check); err != nil {
		return fmt.Errorf("%s during %s: %w", at, w.step, err)
	}
	s, err := Open(check.dir, Options{SealObjects: 8})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.GC(context.Background(), GCOptions{PruneNow: true}); err != nil {
		return fmt.Errorf("%s during %s: gc after recovery: %w", at, w.step, err)
	}
	check.exact = false
	if _, err := checkStore(s, check); err != nil {
		return fmt.Errorf("%s during %s: after second gc: %w", at, w.step, err)
	}
	return nil
}
