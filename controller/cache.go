package controller

import (
	"sync"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// runCache keeps this instance's last write of each running workflow, so
// that the next step's advance does not read it back. A stale entry (another
// instance wrote since) costs one conflict, after which the entry is dropped
// and the workflow read.
type runCache struct {
	mu    sync.Mutex
	max   int
	items map[key]*v1alpha1.Workflow
}

func newRunCache(max int) *runCache {
	return &runCache{max: max, items: map[key]*v1alpha1.Workflow{}}
}

func (c *runCache) get(k key) *v1alpha1.Workflow {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.items[k]
}

// put stores wf, which no one may change afterwards.
func (c *runCache) put(wf *v1alpha1.Workflow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) >= c.max {
		// Beyond the bound the cache starts over: rereading is always
		// correct, only slower.
		clear(c.items)
	}
	c.items[key{wf.Namespace, wf.Name}] = wf
}

func (c *runCache) drop(k key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.items, k)
}
