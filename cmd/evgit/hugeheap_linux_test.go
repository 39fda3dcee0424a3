package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// After hugeHeap the heap grows into memory advised for huge pages: the
// mapping that holds a large allocation made after it carries the
// kernel's "hg" flag (MADV_HUGEPAGE).
// It runs in a process of its own, whose heap starts empty as the
// command's does.
func TestHeapGrowsIntoHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		t.Skip("transparent huge pages are not left to programs here")
	}
	if os.Getenv("EVGIT_TEST_HUGEHEAP") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeapGrowsIntoHugePages$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EVGIT_TEST_HUGEHEAP=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return
	}
	if !hugeHeap() {
		t.Skip("hugeHeap declined here (a limit, strict overcommit, a small machine)")
	}
	b := make([]byte, 32<<20)
	addr := uintptr(unsafe.Pointer(&b[0]))
	flags, err := vmFlags(addr)
	require.NoError(t, err)
	require.Contains(t, strings.Fields(flags), "hg", "VmFlags of the mapping at %#x: %s", addr, flags)
}

// vmFlags returns the VmFlags line of the mapping holding addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	in := false
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimPrefix(line, "VmFlags:"), nil
		}
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
