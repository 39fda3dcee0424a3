package main

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"syscall"
)

// hugeHeap asks the kernel to back the heap with transparent huge pages,
// where the system leaves that to each program (THP "madvise").
//
// An import or gc touches hundreds of megabytes of fresh heap, and a
// short process pays a page fault for every 4 KiB of it: on the 2-core
// VM evgit is measured on, that is a quarter of an import's CPU time.
// With 2 MiB pages there are 512 times fewer faults.
//
// Go does not ask for huge pages for its heap, and the heap maps its
// memory as it grows, so there is no range to advise ahead. hugeHeap
// makes one: it allocates a large slice, which the runtime maps but
// never touches, advises that range, and frees the slice at once. The
// runtime hands the same pages out again first (lowest addresses
// first), so the heap grows into the advised range, and each first
// touch there faults in a huge page. Nothing is touched here: the range
// costs address space, not memory.
//
// It does nothing where that could fail or would not help: a system
// whose setting is "always" (huge pages already) or "never", a limit on
// address space or data (the runtime stops when a mapping fails),
// strict overcommit, a small machine, or GODEBUG=disablethp=1, which
// asks Go to keep huge pages off its heap. It reports whether it
// advised a range. The Go runtime
// does not advise its heap since Go 1.21.4, because a fault in advised
// memory may stop to compact memory (golang/go#61718), which a server's
// latency cannot afford; a bulk command that lives a second gains more
// than it risks, and EVGIT_HUGEPAGES=0 turns this off (docs/design.md
// §12).
func hugeHeap() bool {
	const maxBallast = 1 << 30
	if ^uint(0)>>32 == 0 {
		return false // a 32-bit address space has no gigabyte to spare
	}
	if strings.Contains(os.Getenv("GODEBUG"), "disablethp=1") {
		return false
	}
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || !bytes.Contains(mode, []byte("[madvise]")) {
		return false
	}
	if strict, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err != nil || bytes.HasPrefix(strict, []byte("2")) {
		return false
	}
	for _, res := range []int{syscall.RLIMIT_AS, syscall.RLIMIT_DATA} {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(res, &lim); err != nil || lim.Cur != ^uint64(0) {
			return false
		}
	}
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return false
	}
	// An eighth of the machine at most: the heuristic overcommit check
	// refuses a mapping larger than memory, and the runtime would stop.
	size := min(maxBallast, uint64(info.Totalram)*uint64(info.Unit)/8)
	if size < 64<<20 {
		return false
	}
	err = syscall.Madvise(make([]byte, size), madvHugepage)
	runtime.GC() // frees the range for the heap to reuse, and paces from the real heap
	return err == nil
}

// madvHugepage is MADV_HUGEPAGE, which package syscall does not name.
const madvHugepage = 14
