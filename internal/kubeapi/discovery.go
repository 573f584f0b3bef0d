package kubeapi

import (
	"encoding/json"
	"net/http"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	listers "k8s.io/apiextensions-apiserver/pkg/client/listers/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/version"
)

// groupListHandler serves GET /apis, the list of API groups that kubectl's
// discovery starts from. In a cluster the aggregator answers it; the
// standalone apiextensions-apiserver leaves it to its (empty) delegate, so
// without this kubectl fails with "the server could not find the requested
// resource". /apis/<group> and below are served by the apiextensions-apiserver.
type groupListHandler struct {
	next http.Handler
	// crds is set once the server exists; until then only the built-in
	// group is listed.
	crds func() listers.CustomResourceDefinitionLister
}

func (h groupListHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || (r.URL.Path != "/apis" && r.URL.Path != "/apis/") {
		h.next.ServeHTTP(w, r)
		return
	}
	list := metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{apiGroup(apiextensionsv1.GroupName, []string{"v1"})},
	}
	if lister := h.crds(); lister != nil {
		crds, err := lister.List(labels.Everything())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		versions := map[string][]string{}
		for _, crd := range crds {
			if !established(crd) {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Served {
					versions[crd.Spec.Group] = append(versions[crd.Spec.Group], v.Name)
				}
			}
		}
		groups := make([]string, 0, len(versions))
		for g := range versions {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		for _, g := range groups {
			list.Groups = append(list.Groups, apiGroup(g, versions[g]))
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// apiGroup lists versions by Kubernetes' version priority; the first is preferred.
func apiGroup(name string, versions []string) metav1.APIGroup {
	sort.Slice(versions, func(i, j int) bool {
		return version.CompareKubeAwareVersionStrings(versions[i], versions[j]) > 0
	})
	g := metav1.APIGroup{Name: name}
	seen := map[string]bool{}
	for _, v := range versions {
		if seen[v] {
			continue
		}
		seen[v] = true
		g.Versions = append(g.Versions, metav1.GroupVersionForDiscovery{GroupVersion: name + "/" + v, Version: v})
	}
	g.PreferredVersion = g.Versions[0]
	return g
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}
