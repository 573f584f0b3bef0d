// Package proctree makes the processes zeroflow starts die with it,
// grandchildren included.
//
// On Linux, Command and CommandContext do not start the command itself:
// they start zeroflow's own binary again (/proc/self/exe) as a guard, a
// small process that leads a new process group, is told of zeroflow's
// death by a catchable signal (Pdeathsig SIGTERM), and runs the real
// command in its group. Pdeathsig alone reaches only the direct child and
// is reset across fork, so a script's own children would outlive a
// zeroflow killed by SIGKILL; the guard outlives zeroflow just long
// enough to SIGKILL every process of its group and every descendant (it is
// a child subreaper, so orphans of the tree stay its descendants). The
// guard also ends what the command leaves behind when the command exits,
// as a container's end does, passes the command's exit status or signal
// on, and forwards the signals zeroflow sends it (a SIGTERM for a drain is
// told apart from zeroflow's death by the parent pid).
//
// Cancelling a CommandContext's context SIGKILLs the whole group at once.
//
// Any binary that links this package can act as the guard: the package's
// init takes over a process started with the guard argument. Test binaries
// of the packages that start commands link it too, so their tests run the
// same path as zeroflow.
//
// Outside Linux there is no Pdeathsig: the command leads its own group and
// cancelling kills the group, but a zeroflow killed by SIGKILL leaves it.
package proctree
