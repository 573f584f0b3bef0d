// Package proctree makes the processes zeroflow starts die with it: each
// child leads its own process group (so that a stop or a timeout kills the
// group) and, on Linux, gets SIGKILL when zeroflow dies, even by SIGKILL
// (Pdeathsig). A grandchild is not covered by Pdeathsig: a child that
// starts its own children must kill its group when it stops.
package proctree
