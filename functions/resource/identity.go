package resource

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// client is the client a step acts with: the step's ServiceAccount
// impersonated when Options.Impersonate is set, else the function's own
// (the ServiceAccount recorded in the step's log).
func (o Options) client(ctx context.Context, in sdk.StepInput) (dynamic.Interface, error) {
	if in.ServiceAccountName == "" {
		return o.Dynamic, nil
	}
	if o.Impersonate == nil {
		sdk.Logger(ctx).Info("step names a ServiceAccount: recorded, not enforced here (the function acts as itself)", "serviceAccountName", in.ServiceAccountName, "namespace", in.Namespace)
		return o.Dynamic, nil
	}
	dyn, err := o.Impersonate(in.Namespace, in.ServiceAccountName)
	if err != nil {
		return nil, fmt.Errorf("act as ServiceAccount %s/%s: %w", in.Namespace, in.ServiceAccountName, err)
	}
	sdk.Logger(ctx).Info("acting as the step's ServiceAccount", "serviceAccountName", in.ServiceAccountName, "namespace", in.Namespace)
	return dyn, nil
}

// explainForbidden adds to a 403 the permission it means (verb on
// resource in namespace, for whom) and where to get the Role that grants
// it; other errors are returned as they are.
func explainForbidden(err error, verb, resource, namespace, workflowNamespace, serviceAccount string) error {
	if !apierrors.IsForbidden(err) {
		return err
	}
	who := "the resource function's ServiceAccount (zeroflow-resource)"
	if serviceAccount != "" {
		who = fmt.Sprintf("ServiceAccount %s/%s (the step's serviceAccountName), or the resource function's right to impersonate it,", workflowNamespace, serviceAccount)
	}
	where := "cluster-wide"
	if namespace != "" {
		where = "in namespace " + namespace
	}
	return errors.Join(err, fmt.Errorf("%s lacks %q on %s %s: `zeroflow render --rbac DIR` prints the Role and RoleBinding this workflow's resource steps need", who, verb, resource, where))
}

// ImpersonatingClients is Options.Impersonate for a cluster: a client of
// cfg that acts as the ServiceAccount (Kubernetes impersonation, the
// Impersonate-User header), so that the API checks the step's
// ServiceAccount's RBAC, not the function's.
func ImpersonatingClients(cfg *rest.Config) func(namespace, serviceAccount string) (dynamic.Interface, error) {
	return func(namespace, serviceAccount string) (dynamic.Interface, error) {
		c := rest.CopyConfig(cfg)
		c.Impersonate = rest.ImpersonationConfig{UserName: serviceaccount.MakeUsername(namespace, serviceAccount)}
		dyn, err := dynamic.NewForConfig(c)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client impersonating %s/%s: %w", namespace, serviceAccount, err)
		}
		return dyn, nil
	}
}
