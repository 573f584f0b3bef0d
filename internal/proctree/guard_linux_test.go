package proctree

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// scriptEnv is the script the re-executed parent runs through Command.
const scriptEnv = "PROCTREE_TEST_SCRIPT"

// treeScript starts children and grandchildren of every kind a step may
// leave: a background job, a grandchild in a nested shell, and a process
// that left the group for its own session from a subshell that exited (a
// double fork). It prints "pid N" for each process and then waits.
const treeScript = `echo pid $$
sleep 1000 & echo pid $!
(setsid sleep 1000 & echo pid $!)
sh -c 'echo pid $$; sleep 1000 & echo pid $!; wait' &
wait`

// treePids is how many "pid" lines treeScript prints.
const treePids = 5

// waitGone fails unless every pid has ended within the deadline; it kills
// what is left so that a failing run leaves nothing behind.
func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				for _, p := range pids {
					syscall.Kill(p, syscall.SIGKILL)
				}
				t.Fatalf("process %d (of %v) still runs %s later", pid, pids, within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// readPids reads "pid N" lines until it has n of them and a "NAME N" line
// for each of names, whose numbers it returns in others.
func readPids(t *testing.T, r *bufio.Reader, n int, names ...string) (pids []int, others map[string]int) {
	t.Helper()
	others = map[string]int{}
	missing := func() bool {
		for _, name := range names {
			if _, ok := others[name]; !ok {
				return true
			}
		}
		return false
	}
	for len(pids) < n || missing() {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after pids %v: %v", pids, err)
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("unexpected line %q", line)
		}
		v, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("unexpected line %q", line)
		}
		if f[0] == "pid" {
			pids = append(pids, v)
		} else {
			others[f[0]] = v
		}
	}
	return pids, others
}

// The whole tree under a command dies when zeroflow is killed by SIGKILL:
// the guard, the shell, its background job, a grandchild, and a process
// that moved to its own session and was orphaned.
func TestGrandchildrenDieWithTheirKilledParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"=guard", scriptEnv+"="+treeScript)
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Process.Kill()
	r := bufio.NewReader(out)
	pids, others := readPids(t, r, treePids, "guard")
	guardPid := others["guard"]
	all := append([]int{guardPid}, pids...)
	for _, pid := range all {
		if !alive(pid) {
			t.Fatalf("process %d is not running before the kill", pid)
		}
	}
	// The tree really has a process outside the group, which a kill of
	// the group alone would miss.
	// The shell prints its pid before setsid runs.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if pgid, _ := syscall.Getpgid(pids[2]); pgid != guardPid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the setsid process %d is still in the guard's group %d", pids[2], guardPid)
		}
	}
	if err := parent.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	waitGone(t, all, 5*time.Second)
}

// Cancelling the context kills the command's whole group at once, the
// shell's children included, and Wait returns.
func TestCancelKillsTheGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cmd := CommandContext(ctx, "sh", "-c", `echo pid $$; sleep 1000 & echo pid $!; sh -c 'echo pid $$; sleep 1000 & echo pid $!; wait' & wait`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pids, _ := readPids(t, bufio.NewReader(out), 4)
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err != nil || pgid != cmd.Process.Pid {
			t.Fatalf("process %d is in group %d (%v), want the guard's %d", pid, pgid, err, cmd.Process.Pid)
		}
	}
	cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ctx.Err() == nil || err == nil {
			t.Fatalf("Wait = %v, want the kill's error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return within 5s of the cancel")
	}
	waitGone(t, append([]int{cmd.Process.Pid}, pids...), 5*time.Second)
}

// The guard is invisible to the caller: the command's exit code, death by
// signal, stdin, stdout, stderr, environment and directory are what they
// would be without it.
func TestTheGuardPassesTheCommandThrough(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name     string
		script   string
		stdin    string
		env      []string
		wantOut  string
		wantErr  string
		wantCode int
		wantSig  syscall.Signal
	}{
		{name: "success", script: "echo out; echo err >&2", wantOut: "out\n", wantErr: "err\n"},
		{name: "exit code", script: "exit 3", wantCode: 3},
		{name: "exit code 255", script: "exit 255", wantCode: 255},
		{name: "stdin", script: "cat", stdin: "from stdin", wantOut: "from stdin"},
		{name: "only the given environment", script: `echo "$FOO ${HOME:-no home}"`, env: []string{"FOO=bar", "PATH=" + os.Getenv("PATH")}, wantOut: "bar no home\n"},
		{name: "directory", script: "pwd", wantOut: dir + "\n"},
		{name: "killed by SIGTERM", script: "kill -TERM $$", wantCode: -1, wantSig: syscall.SIGTERM},
		{name: "killed by SIGKILL", script: "kill -KILL $$", wantCode: -1, wantSig: syscall.SIGKILL},
		{name: "killed by SIGSEGV", script: "kill -SEGV $$", wantCode: 128 + int(syscall.SIGSEGV)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := Command("sh", "-c", tc.script)
			cmd.Dir = dir
			if tc.env != nil {
				cmd.Env = tc.env
			}
			cmd.Stdin = strings.NewReader(tc.stdin)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("Run = %v (stderr %q)", err, stderr.String())
			case tc.wantCode != 0 && !errors.As(err, &exit):
				t.Fatalf("Run = %v, want an exit error", err)
			case tc.wantCode != 0 && exit.ExitCode() != tc.wantCode:
				t.Fatalf("exit code = %d, want %d", exit.ExitCode(), tc.wantCode)
			}
			if tc.wantSig != 0 {
				if ws := exit.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != tc.wantSig {
					t.Fatalf("wait status %v, want death by %v", ws, tc.wantSig)
				}
			}
			if stdout.String() != tc.wantOut || stderr.String() != tc.wantErr {
				t.Fatalf("stdout %q, stderr %q; want %q, %q", stdout.String(), stderr.String(), tc.wantOut, tc.wantErr)
			}
		})
	}
}

// A command that is not there fails at Start, as without a guard.
func TestAMissingCommandFailsAtStart(t *testing.T) {
	err := Command("zeroflow-no-such-command").Start()
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Start = %v, want %v", err, exec.ErrNotFound)
	}
}

// What a command leaves running when it exits ends with it, as at the end
// of a container.
func TestLeftoversDieWhenTheCommandExits(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := Command("sh", "-c", "sleep 1000 & echo pid $!; (setsid sleep 1000 & echo pid $!)")
	cmd.Stdout = f
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	pids, _ := readPids(t, bufio.NewReader(f), 2)
	waitGone(t, pids, 5*time.Second)
}

// A SIGTERM while zeroflow lives (a drain) is passed to the command, which
// may exit as it likes; it is not taken for zeroflow's death.
func TestSIGTERMIsForwarded(t *testing.T) {
	cmd := Command("sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 7 || string(rest) != "got TERM\n" {
		t.Fatalf("Wait = %v, output %q; want exit 7 after the trap", err, rest)
	}
}

// A guard whose parent is not the one it was started for (zeroflow died
// before the guard could watch it) starts nothing; with the right parent
// the same command line runs.
func TestAGuardOfADeadParentStartsNothing(t *testing.T) {
	for _, tc := range []struct {
		parent  int
		wantRun bool
	}{{parent: os.Getpid(), wantRun: true}, {parent: 1}} {
		marker := filepath.Join(t.TempDir(), "ran")
		cmd := exec.Command(os.Args[0], guardArg, strconv.Itoa(tc.parent), "/bin/sh", "sh", "-c", "touch "+marker)
		err := cmd.Run()
		_, statErr := os.Stat(marker)
		if ran := statErr == nil; ran != tc.wantRun || (err == nil) != tc.wantRun {
			t.Errorf("guard for parent %d: ran %v, Run = %v; want ran %v", tc.parent, ran, err, tc.wantRun)
		}
	}
}
