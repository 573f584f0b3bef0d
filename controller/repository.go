package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Argo's names for a namespace's artifact repositories.
const (
	// DefaultArtifactRepositories is the ConfigMap an artifactRepositoryRef
	// without a configMap names, and the one looked up without a ref.
	DefaultArtifactRepositories = "artifact-repositories"
	// AnnotationDefaultArtifactRepository names the ConfigMap's key used
	// when the ref names none.
	AnnotationDefaultArtifactRepository = "workflows.argoproj.io/default-artifact-repository"
)

// resolveRepository is the artifact repository a workflow's
// artifactRepositoryRef names, as Argo resolves it: a key of a ConfigMap in
// the workflow's namespace. Without a ref, the namespace's
// artifact-repositories ConfigMap's default key if it has one, else nil
// (the functions' own store). A ref to a ConfigMap or key that does not
// exist is errNotFound: the run cannot start.
func (c *Controller) resolveRepository(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.ArtifactRepository, error) {
	ref := wf.Spec.ArtifactRepositoryRef
	if ref == nil && wf.Status.StoredWorkflowTemplateSpec != nil {
		ref = wf.Status.StoredWorkflowTemplateSpec.ArtifactRepositoryRef
	}
	explicit := ref != nil
	r := v1alpha1.ArtifactRepositoryRef{}
	if ref != nil {
		r = *ref
	}
	if r.ConfigMap == "" {
		r.ConfigMap = DefaultArtifactRepositories
	}
	ck := repoKey{wf.Namespace, r.ConfigMap, r.Key, explicit}
	if e, ok := c.repos.get(ck, c.cfg.Now()); ok {
		return e.repo, e.err
	}
	repo, err := c.readRepository(ctx, wf.Namespace, r, explicit)
	if err == nil || isNotFound(err) {
		c.repos.put(ck, repoEntry{repo: repo, err: err}, c.cfg.Now())
	}
	return repo, err
}

func isNotFound(err error) bool {
	_, ok := err.(errNotFound)
	return ok
}

func (c *Controller) readRepository(ctx context.Context, ns string, r v1alpha1.ArtifactRepositoryRef, explicit bool) (*v1alpha1.ArtifactRepository, error) {
	cm, err := c.cfg.ConfigMaps(ctx, ns, r.ConfigMap)
	switch {
	case apierrors.IsNotFound(err) && !explicit:
		return nil, nil
	case apierrors.IsNotFound(err):
		return nil, errNotFound{fmt.Sprintf("artifactRepositoryRef: ConfigMap %s/%s not found", ns, r.ConfigMap)}
	case err != nil:
		return nil, fmt.Errorf("read artifact repositories ConfigMap %s/%s: %w", ns, r.ConfigMap, err)
	}
	k := r.Key
	if k == "" {
		k = cm.Annotations[AnnotationDefaultArtifactRepository]
	}
	if k == "" {
		if !explicit {
			return nil, nil
		}
		return nil, errNotFound{fmt.Sprintf("artifactRepositoryRef: ConfigMap %s/%s has no key given and no %s annotation", ns, r.ConfigMap, AnnotationDefaultArtifactRepository)}
	}
	v, ok := cm.Data[k]
	if !ok {
		return nil, errNotFound{fmt.Sprintf("artifactRepositoryRef: ConfigMap %s/%s has no key %q", ns, r.ConfigMap, k)}
	}
	repo := &v1alpha1.ArtifactRepository{}
	if err := yaml.Unmarshal([]byte(v), repo); err != nil {
		return nil, errNotFound{fmt.Sprintf("artifactRepositoryRef: ConfigMap %s/%s key %q: %v", ns, r.ConfigMap, k, err)}
	}
	if repo.S3 == nil {
		return nil, errNotFound{fmt.Sprintf("artifactRepositoryRef: ConfigMap %s/%s key %q has no s3 repository (the only kind zeroflow supports)", ns, r.ConfigMap, k)}
	}
	return repo, nil
}

// repoCache keeps resolved repositories a short while, so that a dispatch
// does not read a ConfigMap each time; a changed ConfigMap is seen within
// the TTL.
type repoCache struct {
	mu    sync.Mutex
	ttl   time.Duration
	items map[repoKey]repoEntry
}

type repoKey struct {
	namespace, configMap, key string
	explicit                  bool
}

type repoEntry struct {
	repo *v1alpha1.ArtifactRepository
	err  error
	at   time.Time
}

func newRepoCache(ttl time.Duration) *repoCache {
	return &repoCache{ttl: ttl, items: map[repoKey]repoEntry{}}
}

func (c *repoCache) get(k repoKey, now time.Time) (repoEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[k]
	if !ok || now.Sub(e.at) > c.ttl {
		return repoEntry{}, false
	}
	return e, true
}

func (c *repoCache) put(k repoKey, e repoEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) > 10000 {
		clear(c.items)
	}
	e.at = now
	c.items[k] = e
}
