//go:build !linux

package main

// hugeHeap asks for huge pages for the heap on Linux only
// (hugeheap_linux.go).
func hugeHeap() bool { return false }
