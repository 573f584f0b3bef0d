package trigger

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// offloadArguments stores every argument value above the offload
// threshold as namespace's value and replaces it by its valueRef, so that
// a Workflow made from a large event stays small in the API and in the
// submit event (DESIGN §11); the controller and the steps resolve it.
// Without a store, a large value is a permanent error: no retry adds one.
func offloadArguments(ctx context.Context, o sdk.EventOffload, namespace string, args *v1alpha1.Arguments) error {
	err := sdk.OffloadParameters(ctx, o.Store, namespace, o.Limits.Threshold, args.Parameters)
	if errors.Is(err, sdk.ErrNoOffloadStore) {
		return Permanent(err)
	}
	return err
}

// offloadUnstructuredWorkflow is offloadArguments for a zeroflow Workflow
// that a k8s trigger creates; other objects are left as they are.
func offloadUnstructuredWorkflow(ctx context.Context, o sdk.EventOffload, obj *unstructured.Unstructured) error {
	gvk := obj.GroupVersionKind()
	if gvk.Group != v1alpha1.SchemeGroupVersion.Group || gvk.Kind != "Workflow" {
		return nil
	}
	var wf v1alpha1.Workflow
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &wf); err != nil {
		return Permanent(fmt.Errorf("decode workflow %s: %w", obj.GetName(), err))
	}
	if err := offloadArguments(ctx, o, obj.GetNamespace(), &wf.Spec.Arguments); err != nil {
		return err
	}
	params, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&wf.Spec.Arguments)
	if err != nil {
		return Permanent(fmt.Errorf("encode workflow %s: %w", obj.GetName(), err))
	}
	return unstructured.SetNestedField(obj.Object, params, "spec", "arguments")
}

// classifySendError marks a refusal that another attempt cannot change as
// permanent: a 4xx from the broker, the controller or the API, except
// 408 and 429 (Knative's retry rule, kncloudevents.SelectiveRetry, which
// also retries 404 and 409; here those mean the broker or object is not
// there, which a retry within one firing does not fix either).
func classifySendError(err error) error {
	var se *sdk.SendError
	if errors.As(err, &se) && isPermanentCode(se.Code) {
		return Permanent(err)
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) && isPermanentCode(int(status.Status().Code)) {
		return Permanent(err)
	}
	return err
}

func isPermanentCode(code int) bool {
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}
