package resource

import (
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// A 403 names the permission that is missing and where to get the Role;
// other errors are left as they are.
func TestForbiddenNamesTheMissingPermission(t *testing.T) {
	apiErr := apierrors.NewForbidden(schema.GroupResource{Group: "zeroflow.dev", Resource: "cronworkflows"}, "x", errors.New("denied"))
	err := explainForbidden(apiErr, "delete", "cronworkflows.zeroflow.dev", "argo-events", "argo-events", "scaler")
	for _, want := range []string{"ServiceAccount argo-events/scaler", `"delete" on cronworkflows.zeroflow.dev in namespace argo-events`, "zeroflow render --rbac"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nwant %q", err, want)
		}
	}
	if !apierrors.IsForbidden(err) {
		t.Error("the API error is no longer visible")
	}
	if err := explainForbidden(apiErr, "create", "configmaps", "ns", "ns", ""); !strings.Contains(err.Error(), "zeroflow-resource") {
		t.Errorf("without a step ServiceAccount: %v", err)
	}
	other := errors.New("boom")
	if explainForbidden(other, "create", "x", "ns", "ns", "") != other {
		t.Error("a non-403 error was changed")
	}
}
