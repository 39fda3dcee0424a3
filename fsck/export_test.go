package fsck

import "github.com/evgit/evgit/object"

// WatchTreeReads makes recent hold n facts and counts the tree nodes
// fetched from the store, until the returned function is called.
func WatchTreeReads(n int, reads *int) (restore func()) {
	old := recentMax
	recentMax = n
	treeRead = func(object.ID) { *reads++ }
	return func() { recentMax, treeRead = old, nil }
}
