// Package render builds the Knative objects that EventSources and Sensors
// need, as pure functions of their specs (Knative's reconciler/<kind>/
// resources style): no I/O, deterministic output. `zeroflow dev` runs what
// it builds, and a cluster gets the same objects.
package render
