package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestZZSecond(t *testing.T) {
	k, _ := strconv.Atoi(os.Getenv("ZZK"))
	root := scratchDir(t)
	tw := &twoWriters{dir: filepath.Join(root, ".evgit")}
	Init(nil, tw.dir, "main")
	tw.a, _ = Open(tw.dir, Options{SealObjects: 4})
	fsys := newFaultFS()
	fsys.failAt = k
	werr := tw.run(t, fsys)
	fmt.Println("werr:", werr, "step:", tw.step)
	n := fsys.calls()
	fmt.Println("B refresh:", tw.b.Refresh())
	fmt.Println("sameHead:", tw.sameHead())
	fmt.Println("B commit:", tw.commit(tw.b, "b"))
	for _, c := range fsys.trace[n-3:] {
		fmt.Println("  ", c)
	}
	fmt.Println("A commit:", tw.commit(tw.a, "a"))
	tw.a.Close(); tw.b.Close()
	ents, _ := os.ReadDir(filepath.Join(tw.dir, "log"))
	for _, e := range ents { i, _ := e.Info(); fmt.Println(e.Name(), i.Size()) }
	_, err := verifyRepo(repoCheck{dir: tw.dir, initDone: true, acked: tw.acked})
	fmt.Println("verify:", err)
}
