package sdk

import (
	"context"
	"strings"

	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// Caller is the verified sender of a request: the subject of the audience
// token it carried (Knative's OIDC sender identity). A delivery from a
// Knative Trigger carries the Trigger's identity, a ServiceAccount in the
// Trigger's namespace, so the namespace of a Caller is the namespace the
// event was routed in.
type Caller struct {
	// Subject is the token's sub claim, e.g.
	// system:serviceaccount:<namespace>:<name>.
	Subject string
}

// ServiceAccountSubject is the subject of the ServiceAccount name in
// namespace, as Kubernetes issues it.
func ServiceAccountSubject(namespace, name string) string {
	return identity.ServiceAccountSubject(namespace, name)
}

// Namespace is the namespace of a ServiceAccount subject ("" for any other
// subject).
func (c Caller) Namespace() string {
	rest, ok := strings.CutPrefix(c.Subject, identity.ServiceAccountPrefix)
	if !ok {
		return ""
	}
	ns, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return ns
}

type callerKey struct{}

// WithCaller records the verified caller of a request in ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom is the verified caller of the request ctx belongs to; ok is
// false when the function does not authenticate its callers (sender
// identity turned off).
func CallerFrom(ctx context.Context) (c Caller, ok bool) {
	c, ok = ctx.Value(callerKey{}).(Caller)
	return c, ok
}
