package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// A bulk command prepares the heap once a process, unless
// EVGIT_HUGEPAGES=0 says not to.
func TestStartBulkOnceUnlessTurnedOff(t *testing.T) {
	defer func(f func()) { bulkHeap = f }(bulkHeap)
	calls := 0
	env := map[string]string{"EVGIT_HUGEPAGES": "0"}
	g := &globalOptions{getenv: func(k string) string { return env[k] }}

	bulkHeap = func() { calls++ }
	g.startBulk()
	assert.Equal(t, 0, calls, "turned off")

	delete(env, "EVGIT_HUGEPAGES")
	g.startBulk()
	g.startBulk()
	assert.Equal(t, 1, calls, "once a process")
}
