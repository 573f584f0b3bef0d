package trigger

import (
	"errors"

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
	if apierrors.IsNotFound(apiErr) || apierrors.IsForbidden(apiErr) || apierrors.IsInvalid(apiErr) ||
		apierrors.IsMethodNotSupported(apiErr) || apierrors.IsBadRequest(apiErr) {
		return Permanent(wrapped)
	}
	return wrapped
}
