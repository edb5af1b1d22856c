package blobtest

import "syscall"

// procAttr has the kernel kill the server when the test process dies without
// stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
