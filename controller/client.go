package controller

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// Client reads and writes zeroflow's Workflows and WorkflowTemplates. It is
// a typed REST client: the controller's hot path decodes straight into Go
// types, without the unstructured detour of the dynamic client.
//
// A Workflow whose node records are larger than its compression threshold
// is stored with them in status.compressedNodes (as Argo does); the Client
// compresses on every write and expands on every read and watch event, so
// that its callers always see status.nodes.
type Client struct {
	rest rest.Interface
	// core reads the ConfigMaps that name artifact repositories.
	core corev1client.CoreV1Interface
	// compressAbove is the size of status.nodes (JSON) above which they
	// are stored compressed.
	compressAbove int
}

// NewClient returns a Client for cfg.
func NewClient(cfg *rest.Config) (*Client, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("zeroflow client scheme: %w", err)
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &v1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.ContentType = runtime.ContentTypeJSON
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = "zeroflow-controller"
	}
	if c.QPS == 0 {
		// The controller writes once per step; client-go's default of 5/s
		// would be the whole system's limit.
		c.QPS, c.Burst = 5000, 10000
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("zeroflow client: %w", err)
	}
	core, err := corev1client.NewForConfig(c)
	if err != nil {
		return nil, fmt.Errorf("zeroflow core client: %w", err)
	}
	return &Client{rest: rc, core: core, compressAbove: v1alpha1.DefaultCompressNodesAbove}, nil
}

// WithCompressNodesAbove sets the size of status.nodes (JSON) above which
// they are stored compressed (default v1alpha1.DefaultCompressNodesAbove).
func (c *Client) WithCompressNodesAbove(n int) *Client {
	cp := *c
	cp.compressAbove = n
	return &cp
}

// stored is wf as it is written: its node records compressed when they
// are above the threshold. wf is not changed.
func (c *Client) stored(wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	if len(wf.Status.Nodes) == 0 {
		return wf, nil
	}
	out := *wf
	if err := out.Status.CompressNodes(c.compressAbove); err != nil {
		return nil, fmt.Errorf("workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return &out, nil
}

// expanded gives wf, as read, its node records back.
func expanded(wf *v1alpha1.Workflow, err error) (*v1alpha1.Workflow, error) {
	if err != nil {
		return wf, err
	}
	if err := wf.Status.ExpandNodes(); err != nil {
		return wf, fmt.Errorf("workflow %s/%s: %w", wf.Namespace, wf.Name, err)
	}
	return wf, nil
}

// GetConfigMap reads a ConfigMap (an artifact-repositories one).
func (c *Client) GetConfigMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	return c.core.ConfigMaps(namespace).Get(ctx, name, metav1.GetOptions{})
}

// GetWorkflow reads a Workflow.
func (c *Client) GetWorkflow(ctx context.Context, namespace, name string) (*v1alpha1.Workflow, error) {
	wf := &v1alpha1.Workflow{}
	err := c.rest.Get().Namespace(namespace).Resource("workflows").Name(name).Do(ctx).Into(wf)
	return expanded(wf, err)
}

// ListWorkflows lists the Workflows of a namespace ("" for all).
func (c *Client) ListWorkflows(ctx context.Context, namespace string, opts metav1.ListOptions) (*v1alpha1.WorkflowList, error) {
	l := &v1alpha1.WorkflowList{}
	if err := c.rest.Get().Namespace(namespace).Resource("workflows").VersionedParams(&opts, metav1.ParameterCodec).Do(ctx).Into(l); err != nil {
		return l, err
	}
	for i := range l.Items {
		if _, err := expanded(&l.Items[i], nil); err != nil {
			return l, err
		}
	}
	return l, nil
}

// WatchWorkflows watches the Workflows of a namespace ("" for all).
func (c *Client) WatchWorkflows(ctx context.Context, namespace string, opts metav1.ListOptions) (watch.Interface, error) {
	opts.Watch = true
	w, err := c.rest.Get().Namespace(namespace).Resource("workflows").VersionedParams(&opts, metav1.ParameterCodec).Watch(ctx)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, func(ev watch.Event) (watch.Event, bool) {
		if wf, ok := ev.Object.(*v1alpha1.Workflow); ok {
			if _, err := expanded(wf, nil); err != nil {
				// The watcher sees the error as an event of its own,
				// as it sees a decoding error.
				return watch.Event{Type: watch.Error, Object: &metav1.Status{Status: metav1.StatusFailure, Message: err.Error(), Reason: metav1.StatusReasonInvalid}}, true
			}
		}
		return ev, true
	}), nil
}

// CreateWorkflow creates a Workflow.
func (c *Client) CreateWorkflow(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	body, err := c.stored(wf)
	if err != nil {
		return nil, err
	}
	out := &v1alpha1.Workflow{}
	err = c.rest.Post().Namespace(wf.Namespace).Resource("workflows").Body(body).Do(ctx).Into(out)
	return expanded(out, err)
}

// UpdateWorkflow replaces a Workflow's metadata and spec; it fails with a
// conflict if wf's resourceVersion is not the latest.
func (c *Client) UpdateWorkflow(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	body, err := c.stored(wf)
	if err != nil {
		return nil, err
	}
	out := &v1alpha1.Workflow{}
	err = c.rest.Put().Namespace(wf.Namespace).Resource("workflows").Name(wf.Name).Body(body).Do(ctx).Into(out)
	return expanded(out, err)
}

// UpdateWorkflowStatus replaces a Workflow's status; it fails with a
// conflict if wf's resourceVersion is not the latest.
func (c *Client) UpdateWorkflowStatus(ctx context.Context, wf *v1alpha1.Workflow) (*v1alpha1.Workflow, error) {
	body, err := c.stored(wf)
	if err != nil {
		return nil, err
	}
	out := &v1alpha1.Workflow{}
	err = c.rest.Put().Namespace(wf.Namespace).Resource("workflows").Name(wf.Name).SubResource("status").Body(body).Do(ctx).Into(out)
	return expanded(out, err)
}

// DeleteWorkflow deletes a Workflow.
func (c *Client) DeleteWorkflow(ctx context.Context, namespace, name string) error {
	return c.rest.Delete().Namespace(namespace).Resource("workflows").Name(name).Do(ctx).Error()
}

// GetWorkflowTemplate reads a WorkflowTemplate.
func (c *Client) GetWorkflowTemplate(ctx context.Context, namespace, name string) (*v1alpha1.WorkflowTemplate, error) {
	t := &v1alpha1.WorkflowTemplate{}
	err := c.rest.Get().Namespace(namespace).Resource("workflowtemplates").Name(name).Do(ctx).Into(t)
	return t, err
}

// CreateWorkflowTemplate creates a WorkflowTemplate.
func (c *Client) CreateWorkflowTemplate(ctx context.Context, t *v1alpha1.WorkflowTemplate) error {
	return c.rest.Post().Namespace(t.Namespace).Resource("workflowtemplates").Body(t).Do(ctx).Error()
}

// PatchWorkflow applies a JSON merge patch to a Workflow (not its status).
func (c *Client) PatchWorkflow(ctx context.Context, namespace, name string, patch []byte) (*v1alpha1.Workflow, error) {
	out := &v1alpha1.Workflow{}
	err := c.rest.Patch(types.MergePatchType).Namespace(namespace).Resource("workflows").Name(name).Body(patch).Do(ctx).Into(out)
	return out, err
}

// GetCronWorkflow reads a CronWorkflow.
func (c *Client) GetCronWorkflow(ctx context.Context, namespace, name string) (*v1alpha1.CronWorkflow, error) {
	out := &v1alpha1.CronWorkflow{}
	err := c.rest.Get().Namespace(namespace).Resource("cronworkflows").Name(name).Do(ctx).Into(out)
	return out, err
}

// CreateCronWorkflow creates a CronWorkflow.
func (c *Client) CreateCronWorkflow(ctx context.Context, cw *v1alpha1.CronWorkflow) (*v1alpha1.CronWorkflow, error) {
	out := &v1alpha1.CronWorkflow{}
	err := c.rest.Post().Namespace(cw.Namespace).Resource("cronworkflows").Body(cw).Do(ctx).Into(out)
	return out, err
}

// UpdateCronWorkflowStatus replaces a CronWorkflow's status; it fails with
// a conflict if cw's resourceVersion is not the latest.
func (c *Client) UpdateCronWorkflowStatus(ctx context.Context, cw *v1alpha1.CronWorkflow) (*v1alpha1.CronWorkflow, error) {
	out := &v1alpha1.CronWorkflow{}
	err := c.rest.Put().Namespace(cw.Namespace).Resource("cronworkflows").Name(cw.Name).SubResource("status").Body(cw).Do(ctx).Into(out)
	return out, err
}

// ListWorkflowTemplates lists the WorkflowTemplates of a namespace.
func (c *Client) ListWorkflowTemplates(ctx context.Context, namespace string) (*v1alpha1.WorkflowTemplateList, error) {
	out := &v1alpha1.WorkflowTemplateList{}
	err := c.rest.Get().Namespace(namespace).Resource("workflowtemplates").Do(ctx).Into(out)
	return out, err
}

// DeleteWorkflowTemplate deletes a WorkflowTemplate.
func (c *Client) DeleteWorkflowTemplate(ctx context.Context, namespace, name string) error {
	return c.rest.Delete().Namespace(namespace).Resource("workflowtemplates").Name(name).Do(ctx).Error()
}

// DeleteCronWorkflow deletes a CronWorkflow.
func (c *Client) DeleteCronWorkflow(ctx context.Context, namespace, name string) error {
	return c.rest.Delete().Namespace(namespace).Resource("cronworkflows").Name(name).Do(ctx).Error()
}

// PatchCronWorkflow applies a JSON merge patch to a CronWorkflow.
func (c *Client) PatchCronWorkflow(ctx context.Context, namespace, name string, patch []byte) (*v1alpha1.CronWorkflow, error) {
	out := &v1alpha1.CronWorkflow{}
	err := c.rest.Patch(types.MergePatchType).Namespace(namespace).Resource("cronworkflows").Name(name).Body(patch).Do(ctx).Into(out)
	return out, err
}
