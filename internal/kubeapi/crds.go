package kubeapi

import (
	"context"
	"fmt"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// InstallCRDs creates or updates each CRD (YAML or JSON) and waits until all
// are Established and their resources are served.
//
// The API server makes a custom object created within ~2s of its CRD becoming
// Established wait out the rest of that window, so install CRDs once, early.
func InstallCRDs(ctx context.Context, cfg *rest.Config, docs ...[]byte) error {
	client, err := apiextensionsclient.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("install crds: %w", err)
	}
	crds := client.ApiextensionsV1().CustomResourceDefinitions()
	names := make([]string, 0, len(docs))
	for i, doc := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return fmt.Errorf("install crds: document %d: %w", i, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			return fmt.Errorf("install crds: document %d is a %q, not a CustomResourceDefinition", i, crd.Kind)
		}
		names = append(names, crd.Name)
		existing, err := crds.Get(ctx, crd.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
				return fmt.Errorf("install crd %s: %w", crd.Name, err)
			}
		case err != nil:
			return fmt.Errorf("install crd %s: %w", crd.Name, err)
		default:
			crd.ResourceVersion = existing.ResourceVersion
			if _, err := crds.Update(ctx, &crd, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update crd %s: %w", crd.Name, err)
			}
		}
	}
	for _, name := range names {
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			crd, err := crds.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.NamesAccepted && c.Status == apiextensionsv1.ConditionFalse {
					return false, fmt.Errorf("names not accepted: %s", c.Message)
				}
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("wait for crd %s to be established: %w", name, err)
		}
	}
	return nil
}
