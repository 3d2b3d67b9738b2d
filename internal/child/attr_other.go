//go:build !linux

package child

import "syscall"

// sysProcAttr is empty where the kernel cannot kill a child with its
// parent.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
