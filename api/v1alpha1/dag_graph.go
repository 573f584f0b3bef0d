package v1alpha1

import (
	"slices"

	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// dagGraph is the dependency graph of a dag's tasks, for cycles and for
// what each task can see.
type dagGraph struct {
	tasks []DAGTask
	// index maps a name to its first task.
	index map[string]int
	// deps[i] are the tasks task i waits for, in the order written, without
	// repeats, unknown names or task i itself (all reported elsewhere).
	deps [][]int
}

func newDAGGraph(tasks []DAGTask) *dagGraph {
	g := &dagGraph{tasks: tasks, index: make(map[string]int, len(tasks)), deps: make([][]int, len(tasks))}
	for i, t := range tasks {
		if _, dup := g.index[t.Name]; !dup {
			g.index[t.Name] = i
		}
	}
	for i, t := range tasks {
		for _, name := range taskDependencies(t) {
			j, ok := g.index[name]
			if ok && j != i && !slices.Contains(g.deps[i], j) {
				g.deps[i] = append(g.deps[i], j)
			}
		}
	}
	return g
}

// taskDependencies are the names a task waits for, read as the engine does:
// depends when set, else dependencies. A depends that does not parse gives
// none.
func taskDependencies(t DAGTask) []string {
	if t.Depends == "" {
		return t.Dependencies
	}
	d, err := expression.ParseDepends(t.Depends)
	if err != nil {
		return nil
	}
	return d.Tasks()
}

// names are the names of the tasks.
func (g *dagGraph) names() []string {
	names := make([]string, len(g.tasks))
	for i, t := range g.tasks {
		names[i] = t.Name
	}
	return names
}

// ancestors are the names of the tasks task i waits for, directly or
// through others.
func (g *dagGraph) ancestors(i int) map[string]bool {
	seen := map[string]bool{}
	queue := slices.Clone(g.deps[i])
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		if seen[g.tasks[j].Name] {
			continue
		}
		seen[g.tasks[j].Name] = true
		queue = append(queue, g.deps[j]...)
	}
	return seen
}

// cycle returns one dependency cycle as task names, each depending on the
// next and the first repeated at the end, or nil when there is none. It
// starts from the first task in spec order that is on a cycle and is the
// shortest cycle through it, so the message is the same on every run.
func (g *dagGraph) cycle() []string {
	stuck := g.unsortable()
	for i := range g.tasks {
		if !stuck[i] {
			continue
		}
		if path := g.pathBack(i); path != nil {
			names := make([]string, len(path))
			for k, j := range path {
				names[k] = g.tasks[j].Name
			}
			return names
		}
	}
	return nil
}

// unsortable marks the tasks a topological sort cannot place: those on a
// cycle and those that wait for one. Only they need the search for a cycle.
func (g *dagGraph) unsortable() []bool {
	waiting := make([]int, len(g.tasks))
	dependents := make([][]int, len(g.tasks))
	var ready []int
	for i, deps := range g.deps {
		waiting[i] = len(deps)
		for _, j := range deps {
			dependents[j] = append(dependents[j], i)
		}
		if len(deps) == 0 {
			ready = append(ready, i)
		}
	}
	placed := make([]bool, len(g.tasks))
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		placed[i] = true
		for _, k := range dependents[i] {
			if waiting[k]--; waiting[k] == 0 {
				ready = append(ready, k)
			}
		}
	}
	stuck := make([]bool, len(placed))
	for i, p := range placed {
		stuck[i] = !p
	}
	return stuck
}

// pathBack returns the shortest path of dependencies from task s back to
// itself, s first and last, or nil when there is none.
func (g *dagGraph) pathBack(s int) []int {
	parent := map[int]int{s: -1}
	queue := []int{s}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, w := range g.deps[u] {
			if w == s {
				return append(g.pathTo(parent, u), s)
			}
			if _, seen := parent[w]; !seen {
				parent[w] = u
				queue = append(queue, w)
			}
		}
	}
	return nil
}

// pathTo follows parent links from u back to the start of a search.
func (g *dagGraph) pathTo(parent map[int]int, u int) []int {
	var rev []int
	for k := u; k != -1; k = parent[k] {
		rev = append(rev, k)
	}
	slices.Reverse(rev)
	return rev
}
