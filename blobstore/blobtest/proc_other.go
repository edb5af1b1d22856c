//go:build !linux

package blobtest

import "syscall"

// procAttr returns nil: only Linux can tie the server's life to the test
// process's.
func procAttr() *syscall.SysProcAttr { return nil }
