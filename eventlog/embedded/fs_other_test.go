//go:build !linux

package embedded_test

func onTmpfs(string) bool { return false }
