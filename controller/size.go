package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"knative.dev/pkg/apis"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// DefaultMaxObjectBytes bounds a stored Workflow (its JSON: metadata, spec
// and status). It is below etcd's default request limit of 1.5 MiB with
// room for the API server's own fields, and above what a 10,000-node
// fan-out with small outputs takes (826 KB, docs/benchmarks.md), so that
// such a run still fits; values above the offload threshold (64 KiB) are
// references of about 200 bytes, so no single value can push a run over.
const DefaultMaxObjectBytes = 1 << 20

// errPermanent is a write the API server refused for a reason that trying
// again cannot fix: the object is too large or invalid. The controller
// never retries one; it ends the run in Error instead.
type errPermanent struct {
	// reason is the message for the user: what happened and what to do.
	reason string
	err    error
}

func (e *errPermanent) Error() string {
	if e.err != nil {
		return e.reason + ": " + e.err.Error()
	}
	return e.reason
}

func (e *errPermanent) Unwrap() error { return e.err }

// isPermanent reports whether err, or what it wraps, is permanent.
func isPermanent(err error) bool {
	var p *errPermanent
	return errors.As(err, &p)
}

// permanentAPIError says why err from a write is one retrying cannot fix,
// or "" when it may be temporary. etcd's "request is too large" comes back
// as a 500 from the API server, so its text is what tells it apart.
func permanentAPIError(err error) string {
	switch {
	case err == nil:
		return ""
	case apierrors.IsRequestEntityTooLargeError(err), tooLargeText(err):
		return "the API server refused the write as too large"
	case apierrors.IsInvalid(err):
		return "the API server refused the write as invalid"
	case apierrors.IsBadRequest(err):
		return "the API server refused the write as a bad request"
	}
	return ""
}

// tooLargeText reports whether err is etcd's refusal of a too-large
// request: by the server ("request is too large") or by its client in the
// API server, before sending ("trying to send message larger than max").
// Both reach the controller as a 500 with that text.
func tooLargeText(err error) bool {
	s := err.Error()
	return strings.Contains(s, "request is too large") || strings.Contains(s, "message larger than max")
}

// objectBytes is the size of wf as the API server stores it (JSON).
func objectBytes(wf *v1alpha1.Workflow) (int, error) {
	b, err := json.Marshal(wf)
	if err != nil {
		return 0, fmt.Errorf("measure workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return len(b), nil
}

// offloadAdvice is what a message about a too-large Workflow tells the user
// to do.
func (c *Controller) offloadAdvice() string {
	return fmt.Sprintf("values above %d bytes are offloaded to the artifact store ($%s), so this is a value that was not (a step that returns one without the SDK, an argument given inline with no artifact store configured) or a fan-out too wide for one Workflow: pass large data as artifacts or split the run",
		c.threshold, sdk.EnvOffloadThreshold)
}

// checkSize returns a permanent error when wf, as it is stored (its node
// records compressed when they are large), is above the bound.
func (c *Controller) checkSize(wf *v1alpha1.Workflow, what string) error {
	n, err := objectBytes(wf)
	if err != nil {
		return err
	}
	if n > c.cfg.MaxObjectBytes {
		// Only then may compression matter: measure what is stored.
		stored, err := c.cfg.Client.stored(wf)
		if err != nil {
			return err
		}
		if n, err = objectBytes(stored); err != nil {
			return err
		}
	}
	if n > c.cfg.MaxObjectBytes {
		return &errPermanent{reason: fmt.Sprintf("the workflow's %s would make it %d bytes, above the limit of %d bytes for a stored Workflow; %s", what, n, c.cfg.MaxObjectBytes, c.offloadAdvice())}
	}
	return nil
}

// failRun ends a run whose status could not be written, for reason, with a
// status that fits: the last one written (which did fit), in phase Error
// and every unfinished node in Error; should even that be refused, the
// phase and message alone. It returns the written workflow. No step runs
// again: the run is over, and the input that led here is acknowledged.
func (c *Controller) failRun(ctx context.Context, k key, last *v1alpha1.Workflow, reason string) (*v1alpha1.Workflow, error) {
	c.cache.drop(k)
	c.metrics.permanentErrors.Add(1)
	c.cfg.Logger.ErrorContext(ctx, "workflow status cannot be written: ending the run in Error", "workflow", k.String(), "reason", reason)
	cur := last
	var written *v1alpha1.Workflow
	err := retry.OnError(conflictBackoff, apierrors.IsConflict, func() error {
		if cur == nil {
			wf, err := c.cfg.Client.GetWorkflow(ctx, k.namespace, k.name)
			if err != nil {
				return fmt.Errorf("read workflow %s: %w", k, err)
			}
			cur = wf
		}
		if cur.Status.Phase.Completed() && cur.Status.Message == reason {
			written = cur
			return nil
		}
		now := c.cfg.Now()
		var err error
		for _, bare := range []bool{false, true} {
			next := *cur
			next.Status = errorStatus(&cur.Status, reason, now, bare)
			if bare || c.checkSize(&next, "status") == nil {
				written, err = c.cfg.Client.UpdateWorkflowStatus(ctx, &next)
				if err == nil || permanentAPIError(err) == "" {
					break
				}
			}
		}
		if err != nil {
			cur = nil // a conflict: read it again
			if why := permanentAPIError(err); why != "" {
				return &errPermanent{reason: fmt.Sprintf("write workflow %s status in Error (%s): %s", k, reason, why), err: err}
			}
			return fmt.Errorf("write workflow %s status in Error: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return written, nil
}

// errorStatus is st ended in Error for reason: the nodes that had not
// finished end in Error too, their step tokens dropped. bare keeps only
// the phase, the message and the times.
func errorStatus(st *v1alpha1.WorkflowStatus, reason string, now time.Time, bare bool) v1alpha1.WorkflowStatus {
	started := st.StartedAt
	if started == nil {
		started = &metav1.Time{Time: now}
	}
	out := v1alpha1.WorkflowStatus{StartedAt: started}
	if !bare {
		out = *st.DeepCopy()
		if out.StartedAt == nil {
			out.StartedAt = started
		}
		at := now.Sub(started.Time).Milliseconds()
		for id, n := range out.Nodes {
			n.TokenHash = ""
			if !n.Phase.Fulfilled() {
				n.Phase = v1alpha1.NodeError
				n.Message = "not finished: the workflow ended in Error"
				n.Finished = max(at, n.Started)
			}
			out.Nodes[id] = n
		}
	}
	out.Phase = v1alpha1.WorkflowError
	out.Message = reason
	out.FinishedAt = &metav1.Time{Time: now}
	out.Conditions = nil
	out.SetConditions(apis.Conditions{{Type: apis.ConditionSucceeded, Status: corev1.ConditionFalse, Reason: string(v1alpha1.WorkflowError), Message: reason,
		LastTransitionTime: apis.VolatileTime{Inner: metav1.Time{Time: now}}}})
	return out
}

// submitStatus is the answer to a submit whose Workflow the API server
// refused for good: 413 for too large, 400 else, so that no sender retries
// it.
func submitStatus(err error) int {
	if apierrors.IsRequestEntityTooLargeError(err) || tooLargeText(err) || strings.Contains(err.Error(), "above the limit") {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
