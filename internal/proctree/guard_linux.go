package proctree

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// guardArg as the first argument makes a process the guard. No real
// command line of zeroflow or of a test binary starts with it.
const guardArg = "__zeroflow_proctree_guard__"

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER (linux/prctl.h); the
// syscall package has no name for it.
const prSetChildSubreaper = 36

// The guard takes over before main (or a test binary's TestMain) runs, so
// that it costs only the binary's start and does not run zeroflow's CLI.
func init() {
	if len(os.Args) > 1 && os.Args[1] == guardArg {
		os.Exit(guard(os.Args[2:]))
	}
}

// Command is exec.Command for a command that dies with zeroflow, its
// children included; see the package comment. The caller may set Dir,
// Env, Stdin, Stdout, Stderr and WaitDelay, but not SysProcAttr or Path.
func Command(name string, arg ...string) *exec.Cmd {
	return guarded(exec.Command(name, arg...))
}

// CommandContext is exec.CommandContext for a command that dies with
// zeroflow; when ctx ends, the command's whole process group gets SIGKILL.
func CommandContext(ctx context.Context, name string, arg ...string) *exec.Cmd {
	cmd := guarded(exec.CommandContext(ctx, name, arg...))
	cmd.Cancel = func() error { return killGroup(cmd) }
	return cmd
}

// guarded turns cmd into a start of the guard with cmd's command line.
// The name is looked up here, as exec.Command does, so that a missing
// command is Start's error rather than an exit status of the guard.
func guarded(cmd *exec.Cmd) *exec.Cmd {
	if cmd.Err != nil {
		return cmd
	}
	// /proc/self/exe rather than os.Executable: it still runs the same
	// binary after bin/zeroflow is rebuilt or deleted under a running stack.
	real := cmd.Args
	cmd.Args = append([]string{os.Args[0], guardArg, strconv.Itoa(os.Getpid()), cmd.Path}, real...)
	cmd.Path = "/proc/self/exe"
	// SIGTERM and not SIGKILL: the guard must live on to kill the rest.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	return cmd
}

// killGroup SIGKILLs the group that the guard of cmd leads.
func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// guard runs args = PARENT-PID PATH ARGV0 [ARG...] and returns the exit
// status to leave with.
func guard(args []string) int {
	if len(args) < 3 {
		fmt.Fprintf(os.Stderr, "zeroflow guard: want PARENT-PID PATH ARGV0 [ARG...], got %q\n", args)
		return 127
	}
	parent, err := strconv.Atoi(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "zeroflow guard: parent pid %q: %v\n", args[0], err)
		return 127
	}
	// The signals a guard passes on to its command. SIGTERM is also the
	// signal of zeroflow's death; the parent pid tells which.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	// The Pdeathsig is set before the exec of this binary; a parent that
	// died before the handler above was in place killed the guard by the
	// signal's default action, and one that died before the Pdeathsig was
	// set is seen here. Either way nothing has been started yet.
	if os.Getppid() != parent {
		return 128 + int(syscall.SIGKILL)
	}
	// Orphans of the command's tree (a double fork) become the guard's
	// children instead of init's, so that they stay descendants to kill.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintf(os.Stderr, "zeroflow guard: PR_SET_CHILD_SUBREAPER: %v\n", errno)
	}
	self := os.Getpid()
	pid, err := syscall.ForkExec(args[1], args[2:], &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		// The command stays in the guard's group; if the guard itself is
		// killed by SIGKILL, the command goes with it.
		Sys: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "zeroflow: start %s: %v\n", args[1], err)
		return 127
	}
	exited := make(chan syscall.WaitStatus, 1)
	go reap(pid, exited)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGTERM && os.Getppid() != parent {
				killDescendants(self)
				return 128 + int(syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		case ws := <-exited:
			killDescendants(self)
			return exitAs(ws)
		}
	}
}

// reap waits for every child of the guard: the command, whose status it
// sends, and the orphans that the subreaper setting brings, which would
// stay zombies otherwise.
func reap(command int, exited chan<- syscall.WaitStatus) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil:
			return
		case pid == command:
			exited <- ws
		}
	}
}

// exitAs ends the guard the way its command ended, so that the caller's
// exec.ExitError says the same as without a guard: the exit code, or
// death by the same signal for the signals whose default is to end a Go
// program (others, which Go would turn into a crash dump, give 128+n).
func exitAs(ws syscall.WaitStatus) int {
	if !ws.Signaled() {
		return ws.ExitStatus()
	}
	sig := ws.Signal()
	switch sig {
	case syscall.SIGKILL:
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM:
		signal.Reset(sig)
		_ = syscall.Kill(os.Getpid(), sig)
		time.Sleep(time.Second)
	}
	return 128 + int(sig)
}

// killDescendants SIGKILLs every process below the guard and every other
// member of its group, round after round until none is left running, so
// that a process forked while the previous round was killing is caught.
// A killed process that is still a zombie counts as gone.
func killDescendants(self int) {
	for range 100 {
		victims := descendants(self)
		if len(victims) == 0 {
			return
		}
		for _, pid := range victims {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// descendants lists the running processes below root and the other
// running members of root's process group, from /proc.
func descendants(root int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	var found []int
	seen := map[int]bool{root: true}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == root {
			continue
		}
		st, ok := readStat(pid)
		if !ok || st.state == 'Z' || st.state == 'X' {
			continue
		}
		children[st.ppid] = append(children[st.ppid], pid)
		if st.pgrp == root && !seen[pid] {
			seen[pid] = true
			found = append(found, pid)
		}
	}
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		for _, c := range children[queue[0]] {
			if !seen[c] {
				seen[c] = true
				found = append(found, c)
				queue = append(queue, c)
			}
		}
	}
	return found
}

type procStat struct {
	state      byte
	ppid, pgrp int
}

// readStat reads the state, parent and group of pid from /proc/PID/stat,
// whose second field (the command name) may hold spaces and parentheses.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(fields[1])
	pgrp, err2 := strconv.Atoi(fields[2])
	if err1 != nil || err2 != nil {
		return procStat{}, false
	}
	return procStat{state: fields[0][0], ppid: ppid, pgrp: pgrp}, true
}
