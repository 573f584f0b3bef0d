package trigger

import (
	"errors"
	"fmt"
	"regexp"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// permanentError is a failure that another attempt cannot fix: an object
// the parameters made invalid, a kind the API does not serve, a request
// the server refused as malformed.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

// classifyAPIError marks the API errors that a retry cannot fix as
// permanent, as Argo Events does (IsRetryableKubeAPIError): not found,
// forbidden, invalid, method not supported; and bad requests.
func classifyAPIError(wrapped, apiErr error) error {
	if apierrors.IsForbidden(apiErr) {
		return Permanent(errors.Join(wrapped, forbiddenHint(apiErr)))
	}
	if apierrors.IsNotFound(apiErr) || apierrors.IsForbidden(apiErr) || apierrors.IsInvalid(apiErr) ||
		apierrors.IsMethodNotSupported(apiErr) || apierrors.IsBadRequest(apiErr) ||
		apierrors.IsRequestEntityTooLargeError(apiErr) {
		return Permanent(wrapped)
	}
	return wrapped
}

// forbiddenRefusal is how the API server words an RBAC refusal (its
// authorization filter): who, which verb, which resource of which group,
// and the namespace when the request had one.
var forbiddenRefusal = regexp.MustCompile(`User "([^"]+)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)")?`)

// forbiddenHint names the permission a 403 means and where to get the
// Role that grants it: the sensor acts with its ServiceAccount
// (spec.template.serviceAccountName, default zeroflow-sensor), whose RBAC
// is the cluster's to grant.
func forbiddenHint(err error) error {
	const fix = "`zeroflow render --rbac DIR` prints the Role and RoleBinding this Sensor's triggers need"
	m := forbiddenRefusal.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("the sensor's ServiceAccount (spec.template.serviceAccountName, default zeroflow-sensor) lacks the permission: %s", fix)
	}
	resource := m[3]
	if m[4] != "" {
		resource += "." + m[4]
	}
	where := "cluster-wide"
	if m[5] != "" {
		where = "in namespace " + m[5]
	}
	return fmt.Errorf("missing permission: %s needs %q on %s %s: %s", m[1], m[2], resource, where, fix)
}
