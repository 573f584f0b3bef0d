package trigger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sensor/params"
	"github.com/zeroflow-dev/zeroflow/internal/argocompat"
)

// Labels put on what a sensor makes, as Argo's events.argoproj.io/sensor
// and events.argoproj.io/trigger.
const (
	LabelSensor  = "zeroflow.dev/sensor"
	LabelTrigger = "zeroflow.dev/trigger"
)

// workflowRunner submits a Workflow as a dev.zeroflow.workflow.submit event
// (the controller creates it), or changes one in place.
type workflowRunner struct {
	name string
	spec *v1alpha1.WorkflowTrigger
	doc  []byte
	env  *Env
}

func newWorkflow(tt *v1alpha1.TriggerTemplate, env *Env) (Runner, error) {
	spec := tt.WorkflowTrigger()
	doc, err := sourceJSON(spec.Source)
	if err != nil {
		return nil, fmt.Errorf("trigger %s: %w", tt.Name, err)
	}
	if doc, err = normalizeWorkflow(doc); err != nil {
		return nil, fmt.Errorf("trigger %s: %w", tt.Name, err)
	}
	if spec.Operation == "" || spec.Operation == v1alpha1.WorkflowSubmit {
		if _, err := decodeWorkflow(doc); err != nil {
			return nil, fmt.Errorf("trigger %s: source: %w", tt.Name, err)
		}
	}
	return &workflowRunner{name: tt.Name, spec: spec, doc: doc, env: env}, nil
}

// normalizeWorkflow checks that the source is a Workflow and gives it
// zeroflow's apiVersion.
func normalizeWorkflow(doc []byte) ([]byte, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	if head.Kind != "Workflow" {
		return nil, fmt.Errorf("source: kind %q: a workflow trigger's source is a Workflow (use a k8s trigger for other kinds)", head.Kind)
	}
	// Argo's apiVersion (or none) is accepted so that Argo sensors port by
	// changing the Sensor's apiVersion only.
	switch head.APIVersion {
	case v1alpha1.SchemeGroupVersion.String():
		return doc, nil
	case argocompat.APIVersion, "":
		var m map[string]any
		if err := json.Unmarshal(doc, &m); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		m["apiVersion"] = argocompat.APIVersion
		if _, err := argocompat.Convert(m); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		return json.Marshal(m)
	}
	return nil, fmt.Errorf("source: apiVersion %q: want %s", head.APIVersion, v1alpha1.SchemeGroupVersion)
}

// decodeWorkflow decodes strictly, as kubectl's strict field validation
// would, so that a misspelt field is an error, not silently dropped.
func decodeWorkflow(doc []byte) (*v1alpha1.Workflow, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	wf := &v1alpha1.Workflow{}
	if err := dec.Decode(wf); err != nil {
		return nil, fmt.Errorf("not a zeroflow Workflow: %w", err)
	}
	return wf, nil
}

func (r *workflowRunner) Run(ctx context.Context, f Firing) error {
	doc, err := params.Apply(r.doc, r.spec.Parameters, f.Events)
	if err != nil {
		return Permanent(fmt.Errorf("workflow trigger %s: %w", r.name, err))
	}
	switch r.spec.Operation {
	case "", v1alpha1.WorkflowSubmit:
		return r.submit(ctx, f, doc)
	default:
		return r.control(ctx, doc)
	}
}

func (r *workflowRunner) submit(ctx context.Context, f Firing, doc []byte) error {
	wf, err := decodeWorkflow(doc)
	if err != nil {
		return Permanent(fmt.Errorf("workflow trigger %s: after parameters: %w", r.name, err))
	}
	sensor := r.env.Sensor
	if wf.Namespace == "" {
		wf.Namespace = sensor.Namespace
	}
	if wf.Name == "" {
		wf.Name = WorkflowName(wf.GenerateName, sensor, r.name, f.Key)
		wf.GenerateName = ""
	}
	if err := r.env.checkNamespace(r.name, "workflow "+wf.Namespace+"/"+wf.Name, wf.Namespace, true); err != nil {
		return err
	}
	if wf.Labels == nil {
		wf.Labels = map[string]string{}
	}
	wf.Labels[LabelSensor] = sensor.Name
	wf.Labels[LabelTrigger] = r.name
	if err := offloadArguments(ctx, r.env.Offload, wf.Namespace, &wf.Spec.Arguments); err != nil {
		return fmt.Errorf("workflow trigger %s: workflow %s/%s: %w", r.name, wf.Namespace, wf.Name, err)
	}
	if errs := v1alpha1.ValidateWorkflow(wf); len(errs) > 0 {
		return Permanent(fmt.Errorf("workflow trigger %s: workflow %s is invalid: %w", r.name, wf.Name, errs.ToAggregate()))
	}
	ev := event.New()
	ev.SetID(SubmitID(sensor, r.name, f.Key))
	ev.SetType(events.TypeWorkflowSubmit)
	ev.SetSource(SensorSource(sensor))
	ev.SetSubject(wf.Name)
	ev.SetExtension(events.ExtNamespace, wf.Namespace)
	ev.SetExtension(events.ExtSensor, sensor.Name)
	if err := ev.SetData(event.ApplicationJSON, events.WorkflowSubmit{Workflow: wf}); err != nil {
		return Permanent(fmt.Errorf("workflow trigger %s: encode submit: %w", r.name, err))
	}
	if err := r.env.Send(ctx, ev); err != nil {
		return classifySendError(fmt.Errorf("workflow trigger %s: submit %s/%s: %w", r.name, wf.Namespace, wf.Name, err))
	}
	r.env.Logger.InfoContext(ctx, "workflow submitted", "trigger", r.name, "workflow", wf.Namespace+"/"+wf.Name, "events", f.Dependencies())
	return nil
}

// control suspends, resumes, stops or terminates the Workflow the source
// names, as the Argo CLI does: by patching its spec.
func (r *workflowRunner) control(ctx context.Context, doc []byte) error {
	u, err := decodeObject(doc)
	if err != nil {
		return Permanent(fmt.Errorf("workflow trigger %s: %w", r.name, err))
	}
	if u.GetName() == "" {
		return Permanent(fmt.Errorf("workflow trigger %s: %s needs the workflow's metadata.name (set it with a parameter)", r.name, r.spec.Operation))
	}
	ns := u.GetNamespace()
	if ns == "" {
		ns = r.env.Sensor.Namespace
	}
	if err := r.env.checkNamespace(r.name, "workflow "+ns+"/"+u.GetName(), ns, true); err != nil {
		return err
	}
	var spec map[string]any
	switch r.spec.Operation {
	case v1alpha1.WorkflowSuspend:
		spec = map[string]any{"suspend": true}
	case v1alpha1.WorkflowResume:
		spec = map[string]any{"suspend": nil}
	case v1alpha1.WorkflowStop:
		spec = map[string]any{"shutdown": v1alpha1.ShutdownStop}
	case v1alpha1.WorkflowTerminate:
		spec = map[string]any{"shutdown": v1alpha1.ShutdownTerminate}
	default:
		return Permanent(fmt.Errorf("workflow trigger %s: unknown operation %q", r.name, r.spec.Operation))
	}
	patch, _ := json.Marshal(map[string]any{"spec": spec})
	res := v1alpha1.SchemeGroupVersion.WithResource("workflows")
	if _, err := r.env.Dynamic.Resource(res).Namespace(ns).Patch(ctx, u.GetName(), types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return classifyAPIError(fmt.Errorf("workflow trigger %s: %s workflow %s/%s: %w", r.name, r.spec.Operation, ns, u.GetName(), err), err)
	}
	r.env.Logger.InfoContext(ctx, "workflow "+string(r.spec.Operation), "trigger", r.name, "workflow", ns+"/"+u.GetName())
	return nil
}

// SensorSource is the CloudEvent source of what a sensor sends.
func SensorSource(s *v1alpha1.Sensor) string {
	return "/zeroflow/sensor/" + s.Namespace + "/" + s.Name
}

// SubmitID is the id of the submit event of a firing; the controller
// creates one Workflow per id.
func SubmitID(s *v1alpha1.Sensor, trigger, key string) string {
	return s.Namespace + "/" + s.Name + "/" + trigger + "/" + key
}

// maxNameLength keeps workflow names usable as label values.
const maxNameLength = 63

// WorkflowName names the workflow of a firing: the source's generateName
// (else "<sensor>-<trigger>-") and a hash of the sensor, the trigger and
// the firing's events. The same events always give the same name, so a
// redelivered event cannot start a second run.
func WorkflowName(generateName string, s *v1alpha1.Sensor, trigger, key string) string {
	sum := sha256.Sum256([]byte(s.Namespace + "\x00" + s.Name + "\x00" + trigger + "\x00" + key))
	suffix := hex.EncodeToString(sum[:])[:10]
	prefix := generateName
	if prefix == "" {
		prefix = strings.ToLower(s.Name + "-" + trigger + "-")
		prefix = strings.ReplaceAll(prefix, "_", "-")
	}
	if len(prefix) > maxNameLength-len(suffix) {
		prefix = prefix[:maxNameLength-len(suffix)]
	}
	return prefix + suffix
}
