//go:build !linux

package pack

func syncData(f File) error { return f.Sync() }
