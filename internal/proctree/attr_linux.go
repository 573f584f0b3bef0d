package proctree

import "syscall"

// Attr is the SysProcAttr of a child: its own process group, and SIGKILL
// when the thread that started it, that is zeroflow, dies. Go keeps the
// threads that fork alive for the life of the process unless a goroutine
// that locked its thread exits; nothing here starts children from one.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
