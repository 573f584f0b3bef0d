package proctree

import "syscall"

// Attr is the SysProcAttr of a child that has no children of its own to
// worry about: its own process group, and SIGKILL when the thread that
// started it dies. Go keeps the threads that fork alive for the life of
// the process unless a goroutine that locked its thread exits; nothing
// here starts children from one. A command that may start children of
// its own needs Command, which covers them too.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
