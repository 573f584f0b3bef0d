package sensor

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/trigger"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// store keeps a sensor's partial state in its status, with optimistic
// concurrency: every change is a read, a change and a write that fails if
// someone else wrote in between, and is then redone on what they wrote.
type store struct {
	sensors   dynamic.ResourceInterface
	name      string
	namespace string
	// mask hides sensitive header values in the events the status keeps:
	// the status is readable by whoever may read the Sensor, and an event
	// from a source that does not mask them itself must not put a cookie
	// or an API key there.
	mask secrets.HeaderMask
}

// sensorsResource is the Sensor API resource.
var sensorsResource = v1alpha1.SchemeGroupVersion.WithResource("sensors")

func newStore(client dynamic.Interface, s *v1alpha1.Sensor) *store {
	return &store{sensors: client.Resource(sensorsResource).Namespace(s.Namespace), name: s.Name, namespace: s.Namespace, mask: secrets.NewHeaderMask()}
}

// conflictBackoff spaces the retries of a write that lost a race; several
// instances of a sensor may take events at once.
var conflictBackoff = wait.Backoff{Steps: 30, Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Cap: time.Second}

func (s *store) get(ctx context.Context) (*unstructured.Unstructured, *v1alpha1.SensorStatus, error) {
	u, err := s.sensors.Get(ctx, s.name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, classifyStoreError(fmt.Errorf("read sensor %s/%s: %w", s.namespace, s.name, err))
	}
	st := &v1alpha1.SensorStatus{}
	if raw, ok := u.Object["status"].(map[string]any); ok {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, st); err != nil {
			return nil, nil, fmt.Errorf("read sensor %s/%s status: %w", s.namespace, s.name, err)
		}
	}
	return u, st, nil
}

// mutate applies change to the status and writes it, redoing both on a
// conflict. change returns false when it changed nothing, and nothing is
// written.
func (s *store) mutate(ctx context.Context, change func(st *v1alpha1.SensorStatus) (bool, error)) error {
	return retry.RetryOnConflict(conflictBackoff, func() error {
		u, st, err := s.get(ctx)
		if err != nil {
			return err
		}
		changed, err := change(st)
		if err != nil || !changed {
			return err
		}
		if err := s.maskEvents(st); err != nil {
			return err
		}
		raw, err := runtime.DefaultUnstructuredConverter.ToUnstructured(st)
		if err != nil {
			return fmt.Errorf("write sensor %s/%s status: %w", s.namespace, s.name, err)
		}
		u.Object["status"] = raw
		if _, err := s.sensors.UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil {
			return classifyStoreError(fmt.Errorf("write sensor %s/%s status: %w", s.namespace, s.name, err))
		}
		return nil
	})
}

// classifyStoreError marks what the API server refuses for good as
// permanent, so that the sensor answers 422 and the broker does not
// deliver the event again only to meet the same refusal: a status it
// rejects as invalid or too large (etcd's "request is too large" comes
// back as a 500, so its text tells), a bad request, and a refusal by RBAC.
// A missing Sensor is not: it may be being created again.
func classifyStoreError(err error) error {
	text := err.Error()
	if apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsBadRequest(err) || apierrors.IsForbidden(err) ||
		strings.Contains(text, "request is too large") || strings.Contains(text, "message larger than max") {
		return trigger.Permanent(err)
	}
	return err
}

// maskEvents masks the sensitive headers of every event in the status,
// before each write, so that no path that stores an event can skip it.
// The triggers of a firing then see the masked values too, as they do
// for the events a webhook masks itself.
func (s *store) maskEvents(st *v1alpha1.SensorStatus) error {
	maskAll := func(deps []v1alpha1.DependencyStatus) error {
		for i := range deps {
			raw := deps[i].Event.Raw
			// Most events carry no headers; skip decoding those.
			if !bytes.Contains(raw, []byte(`"header"`)) {
				continue
			}
			out, changed, err := s.mask.EventJSON(raw)
			if err != nil {
				return fmt.Errorf("write sensor %s/%s status: event %s of %s: %w", s.namespace, s.name, deps[i].EventID, deps[i].Name, err)
			}
			if changed {
				deps[i].Event.Raw = out
			}
		}
		return nil
	}
	for i := range st.Triggers {
		ts := &st.Triggers[i]
		if err := maskAll(ts.Dependencies); err != nil {
			return err
		}
		for j := range ts.Pending {
			if err := maskAll(ts.Pending[j].Dependencies); err != nil {
				return err
			}
		}
	}
	return nil
}
