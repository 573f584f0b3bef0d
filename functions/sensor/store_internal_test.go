package sensor

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
)

// What the API server refuses for good when the sensor reads or writes its
// status is permanent (the sensor answers 422, which no broker retries);
// what may pass is not. The errors are the API machinery's own, as the
// client returns them, wrapped as the store wraps them.
func TestClassifyStoreError(t *testing.T) {
	gr := schema.GroupResource{Group: "zeroflow.dev", Resource: "sensors"}
	gk := schema.GroupKind{Group: "zeroflow.dev", Kind: "Sensor"}
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"invalid", apierrors.NewInvalid(gk, "s", field.ErrorList{field.Invalid(field.NewPath("status"), "x", "bad")}), true},
		{"too large (413)", apierrors.NewRequestEntityTooLargeError("limit is 3145728"), true},
		{"etcd: request is too large (500)", apierrors.NewInternalError(errors.New("etcdserver: request is too large")), true},
		{"grpc: message larger than max (500)", apierrors.NewInternalError(errors.New("rpc error: code = ResourceExhausted desc = trying to send message larger than max (3000000 vs. 2097152)")), true},
		{"bad request", apierrors.NewBadRequest("malformed"), true},
		{"forbidden", apierrors.NewForbidden(gr, "s", errors.New("RBAC says no")), true},
		{"not found", apierrors.NewNotFound(gr, "s"), false},
		{"conflict", apierrors.NewConflict(gr, "s", errors.New("the object has been modified")), false},
		{"too many requests", apierrors.NewTooManyRequests("slow down", 1), false},
		{"unavailable", apierrors.NewServiceUnavailable("etcd is down"), false},
		{"timeout", apierrors.NewTimeoutError("slow", 1), false},
		{"internal", apierrors.NewInternalError(errors.New("boom")), false},
		{"connection refused", errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := classifyStoreError(fmt.Errorf("write sensor default/s status: %w", tc.err))
			if got := trigger.IsPermanent(err); got != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			// The API error stays visible to callers that check it, such
			// as the retry on conflicts around the write.
			if !errors.Is(err, tc.err) {
				t.Errorf("the classified error no longer wraps %v", tc.err)
			}
		})
	}
}
