package trigger

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A 403 names the permission that is missing (who, verb, group/resource,
// namespace) and where to get the Role, and is not retried.
func TestForbiddenNamesTheMissingPermission(t *testing.T) {
	// As the API server's authorization filter words it.
	apiErr := apierrors.NewForbidden(schema.GroupResource{Group: "zeroflow.dev", Resource: "cronworkflows"}, "peak-20261203",
		errors.New(`User "system:serviceaccount:argo-events:operate-workflow-sa" cannot create resource "cronworkflows" in API group "zeroflow.dev" in the namespace "argo-events"`))
	err := classifyAPIError(fmt.Errorf("k8s trigger t: create: %w", apiErr), apiErr)
	if !IsPermanent(err) {
		t.Error("a 403 is retried")
	}
	for _, want := range []string{`system:serviceaccount:argo-events:operate-workflow-sa needs "create" on cronworkflows.zeroflow.dev in namespace argo-events`, "zeroflow render --rbac"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	other := apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("denied"))
	if err := classifyAPIError(other, other); !strings.Contains(err.Error(), "zeroflow render --rbac") {
		t.Errorf("an unparsed 403: %v", err)
	}
}
