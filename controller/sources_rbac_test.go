package controller_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// apiCall is one request the controller made, as RBAC sees it.
type apiCall struct{ verb, group, resource string }

func (c apiCall) String() string { return c.verb + " " + c.resource + "." + c.group }

// apiCalls records the controller's requests, so that a test can check
// its Role allows each (manifests/rbac/controller.yaml).
type apiCalls struct {
	mu    sync.Mutex
	calls map[apiCall]bool
}

func (r *apiCalls) add(c apiCall) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[apiCall]bool{}
	}
	r.calls[c] = true
}

func (r *apiCalls) list() []apiCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]apiCall, 0, len(r.calls))
	for c := range r.calls {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b apiCall) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// recorded is cfg with every request noted in r, by the API server's own
// reading of the request (verb, group, resource/subresource).
func (r *apiCalls) recorded(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	infos := &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			if info, err := infos.NewRequestInfo(req); err == nil && info.IsResourceRequest {
				res := info.Resource
				if info.Subresource != "" {
					res += "/" + info.Subresource
				}
				r.add(apiCall{info.Verb, info.APIGroup, res})
			}
			return rt.RoundTrip(req)
		})
	})
	return cfg
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// recordedDynamic notes the calls made through d (the fake core client,
// which the HTTP recorder does not see).
type recordedDynamic struct {
	dynamic.Interface
	calls *apiCalls
}

func (d recordedDynamic) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return recordedResource{d.Interface.Resource(gvr), gvr, d.calls}
}

type recordedResource struct {
	dynamic.NamespaceableResourceInterface
	gvr   schema.GroupVersionResource
	calls *apiCalls
}

func (r recordedResource) Namespace(ns string) dynamic.ResourceInterface {
	return recordedNamespaced{r.NamespaceableResourceInterface.Namespace(ns), r.gvr, r.calls}
}

type recordedNamespaced struct {
	dynamic.ResourceInterface
	gvr   schema.GroupVersionResource
	calls *apiCalls
}

func (r recordedNamespaced) note(verb string) {
	r.calls.add(apiCall{verb, r.gvr.Group, r.gvr.Resource})
}

func (r recordedNamespaced) Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.note("create")
	return r.ResourceInterface.Create(ctx, obj, opts, sub...)
}

func (r recordedNamespaced) Update(ctx context.Context, obj *unstructured.Unstructured, opts metav1.UpdateOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.note("update")
	return r.ResourceInterface.Update(ctx, obj, opts, sub...)
}

func (r recordedNamespaced) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	r.note("delete")
	return r.ResourceInterface.Delete(ctx, name, opts, sub...)
}

func (r recordedNamespaced) Get(ctx context.Context, name string, opts metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	r.note("get")
	return r.ResourceInterface.Get(ctx, name, opts, sub...)
}

func (r recordedNamespaced) List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	r.note("list")
	return r.ResourceInterface.List(ctx, opts)
}

// checkControllerRole checks that the shipped controller Role allows every
// call recorded.
func checkControllerRole(t *testing.T, calls []apiCall) {
	t.Helper()
	b, err := os.ReadFile("../manifests/rbac/controller.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role *rbacv1.Role
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var r rbacv1.Role
		if err := yaml.UnmarshalStrict([]byte(doc), &r); err == nil && r.Kind == "Role" && r.Name == "zeroflow-controller" {
			role = &r
		}
	}
	if role == nil {
		t.Fatal("no Role zeroflow-controller in manifests/rbac/controller.yaml")
	}
	if len(calls) == 0 {
		t.Fatal("no calls recorded")
	}
	for _, c := range calls {
		if !slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, c.group) && slices.Contains(r.Resources, c.resource) && slices.Contains(r.Verbs, c.verb)
		}) {
			t.Errorf("the controller's Role does not allow %s, which it calls", c)
		}
	}
}
