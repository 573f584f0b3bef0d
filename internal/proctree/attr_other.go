//go:build !linux

package proctree

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
)

// Attr is the SysProcAttr of a child: its own process group. Outside Linux
// there is no Pdeathsig, so a child outlives a zeroflow killed by SIGKILL.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// Command is exec.Command for a command that leads its own process group.
// Outside Linux there is no guard: a zeroflow killed by SIGKILL leaves it.
func Command(name string, arg ...string) *exec.Cmd {
	cmd := exec.Command(name, arg...)
	cmd.SysProcAttr = Attr()
	return cmd
}

// CommandContext is exec.CommandContext for a command that leads its own
// process group; when ctx ends, the whole group gets SIGKILL.
func CommandContext(ctx context.Context, name string, arg ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, arg...)
	cmd.SysProcAttr = Attr()
	cmd.Cancel = func() error {
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
	return cmd
}
