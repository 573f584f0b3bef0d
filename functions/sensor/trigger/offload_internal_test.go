package trigger

import (
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// The retry rule for what the broker, the controller or the API answer:
// a 4xx is final, except 408 and 429; 5xx and transport errors are not.
func TestClassifySendError(t *testing.T) {
	for code, permanent := range map[int]bool{400: true, 403: true, 404: true, 409: true, 413: true, 422: true, 408: false, 429: false, 500: false, 503: false} {
		err := classifySendError(fmt.Errorf("submit: %w", &sdk.SendError{Code: code}))
		if IsPermanent(err) != permanent {
			t.Errorf("broker answer %d: permanent %v, want %v", code, IsPermanent(err), permanent)
		}
	}
	tooLarge := apierrors.NewRequestEntityTooLargeError("etcdserver: request is too large")
	if !IsPermanent(classifyAPIError(fmt.Errorf("create: %w", tooLarge), tooLarge)) {
		t.Error("a 413 from the API is retried")
	}
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "workflows"}, "w", nil)
	if IsPermanent(classifyAPIError(conflict, conflict)) {
		t.Error("a conflict is final")
	}
	if IsPermanent(classifySendError(fmt.Errorf("dial: connection refused"))) {
		t.Error("a transport error is final")
	}
}
