//go:build !linux

package proctree

import "syscall"

// Attr is the SysProcAttr of a child: its own process group. Outside Linux
// there is no Pdeathsig, so a child outlives a zeroflow killed by SIGKILL.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
