package render

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/controller/engine"
)

// What the API lets the objects' functions do, least privilege: each
// Sensor's k8s triggers and each workflow's resource steps get a Role (in
// the namespace they act in) with the verbs they use on the kinds they
// touch, a name when the object's name is written in full, bound to the
// ServiceAccount that acts:
//
//   - a sensor's triggers: its sensor function's ServiceAccount
//     (SensorServiceAccountName); one that is not zeroflow-sensor also gets
//     what every sensor needs (its Sensor's status, Workflows), which
//     manifests/rbac grants zeroflow-sensor;
//   - a resource step: the resource function's ServiceAccount, or the
//     step's serviceAccountName, which the resource function then
//     impersonates (a Role lets it impersonate that one ServiceAccount).
//
// A kind's resource is guessed from its name as kubectl does without
// discovery (ConfigMap: configmaps). Argo's argoproj.io workflow kinds are
// granted as zeroflow's, which they are converted to.

// LabelRBACFor marks a rendered Role and RoleBinding with the object
// (kind-name) whose functions they serve.
const LabelRBACFor = "zeroflow.dev/rbac-for"

// argoGroup is Argo's API group, whose workflow kinds zeroflow serves as
// its own.
const argoGroup = "argoproj.io"

// access is what one actor needs in one namespace.
type access struct {
	namespace string
	// subject acts: a ServiceAccount in subjectNamespace.
	subject, subjectNamespace string
	rules                     []rbacv1.PolicyRule
}

// RBAC renders the Roles and RoleBindings that in's Sensors' triggers and
// workflows' resource steps need (objects without a namespace are in
// namespace, where the runtime's functions are too), and the ServiceAccount
// of each Sensor that names its own.
func RBAC(in Input, namespace string) (Objects, error) {
	var out Objects
	add := func(owner string, acc []access) {
		for _, a := range acc {
			name := childName(owner, a.subject)
			labels := withPartOf(map[string]string{LabelRBACFor: owner, LabelComponent: "rbac"})
			out.Roles = append(out.Roles, rbacv1.Role{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "Role"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.namespace, Labels: labels},
				Rules:      mergeRules(a.rules),
			})
			out.RoleBindings = append(out.RoleBindings, rbacv1.RoleBinding{
				TypeMeta:   metav1.TypeMeta{APIVersion: rbacv1.SchemeGroupVersion.String(), Kind: "RoleBinding"},
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: a.namespace, Labels: labels},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: a.subject, Namespace: a.subjectNamespace}},
			})
		}
	}
	for _, s := range in.Sensors {
		acc, err := sensorAccess(s, namespace)
		if err != nil {
			return Objects{}, err
		}
		add(childName("sensor", s.Name), acc)
		if sa := SensorServiceAccountName(s); sa != SensorServiceAccount {
			out.ServiceAccounts = append(out.ServiceAccounts, corev1.ServiceAccount{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
				ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: s.Namespace, Labels: withPartOf(map[string]string{LabelComponent: "rbac"})},
			})
		}
	}
	type workflow struct {
		kind, name, namespace string
		spec                  *v1alpha1.WorkflowSpec
	}
	var wfs []workflow
	for _, w := range in.Workflows {
		name := w.Name
		if name == "" {
			name = w.GenerateName
		}
		wfs = append(wfs, workflow{"workflow", name, w.Namespace, &w.Spec})
	}
	for _, w := range in.WorkflowTemplates {
		wfs = append(wfs, workflow{"workflowtemplate", w.Name, w.Namespace, &w.Spec})
	}
	for _, cw := range in.CronWorkflows {
		wfs = append(wfs, workflow{"cronworkflow", cw.Name, cw.Namespace, &cw.Spec.WorkflowSpec})
	}
	for _, w := range wfs {
		ns := w.namespace
		if ns == "" {
			ns = namespace
		}
		acc, err := resourceStepAccess(w.spec, ns, namespace)
		if err != nil {
			return Objects{}, fmt.Errorf("%s %s: %w", w.kind, w.name, err)
		}
		add(childName(w.kind, w.name), acc)
	}
	slices.SortFunc(out.ServiceAccounts, func(a, b corev1.ServiceAccount) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	out.ServiceAccounts = slices.CompactFunc(out.ServiceAccounts, func(a, b corev1.ServiceAccount) bool {
		return a.Namespace == b.Namespace && a.Name == b.Name
	})
	out.sort()
	return out, nil
}

// sensorBaseRules are what every sensor function does (manifests/rbac's
// zeroflow-sensor Role): keep its Sensor's condition state, and submit and
// control Workflows.
func sensorBaseRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"sensors"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"sensors/status"}, Verbs: []string{"get", "update", "patch"}},
		{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"workflows"}, Verbs: []string{"get", "list", "create", "patch"}},
	}
}

// sensorAccess is what a Sensor's triggers do: each k8s trigger's
// operation on its object's kind, and a workflow trigger's control
// operations (a patch of the Workflow; a submit goes through the broker).
func sensorAccess(s *v1alpha1.Sensor, runtimeNamespace string) ([]access, error) {
	ns := s.Namespace
	if ns == "" {
		ns = runtimeNamespace
	}
	sa := SensorServiceAccountName(s)
	byNS := map[string][]rbacv1.PolicyRule{}
	if sa != SensorServiceAccount {
		byNS[ns] = sensorBaseRules()
	}
	for i, t := range s.Spec.Triggers {
		tt := t.Template
		if tt == nil {
			continue
		}
		switch {
		case tt.K8s != nil:
			obj, err := sourceHead(tt.K8s.Source)
			if err != nil {
				return nil, fmt.Errorf("sensor %s: spec.triggers[%d].template.k8s.source: %w", s.Name, i, err)
			}
			if obj == nil {
				continue
			}
			op := tt.K8s.Operation
			if op == "" {
				op = v1alpha1.K8sCreate
			}
			var verbs []string
			switch op {
			case v1alpha1.K8sCreate:
				verbs = []string{"create"}
			case v1alpha1.K8sUpdate:
				verbs = []string{"get", "update"}
			case v1alpha1.K8sPatch:
				verbs = []string{"patch"}
			case v1alpha1.K8sDelete:
				verbs = []string{"delete"}
			}
			target := obj.namespace
			if target == "" {
				target = ns
			}
			name := obj.name
			if op == v1alpha1.K8sCreate || setsName(tt.K8s.Parameters) || setsName(t.Parameters) {
				name = "" // a create cannot be limited by name; a parameter may change it
			}
			byNS[target] = append(byNS[target], rule(obj.gvk, name, verbs...))
		case tt.WorkflowTrigger() != nil:
			switch tt.WorkflowTrigger().Operation {
			case "", v1alpha1.WorkflowSubmit:
			default:
				byNS[ns] = append(byNS[ns], rbacv1.PolicyRule{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{"workflows"}, Verbs: []string{"patch"}})
			}
		}
	}
	var out []access
	for target, rules := range byNS {
		if len(rules) > 0 {
			out = append(out, access{namespace: target, subject: sa, subjectNamespace: ns, rules: rules})
		}
	}
	sortAccess(out)
	return out, nil
}

// resourceStepAccess is what a spec's resource templates do, by who acts:
// the step's ServiceAccount (impersonated) or the resource function's.
func resourceStepAccess(spec *v1alpha1.WorkflowSpec, ns, runtimeNamespace string) ([]access, error) {
	type key struct{ namespace, subject, subjectNamespace string }
	byKey := map[key][]rbacv1.PolicyRule{}
	for i, t := range spec.Templates {
		r := t.Resource
		if r == nil {
			continue
		}
		obj, err := manifestHead(r.Manifest)
		if err != nil {
			return nil, fmt.Errorf("spec.templates[%d].resource.manifest: %w", i, err)
		}
		if obj == nil {
			continue
		}
		var verbs []string
		switch r.Action {
		case "create":
			verbs = []string{"create"}
		case "apply":
			// Server-side apply: a patch, which creates what is missing.
			verbs = []string{"create", "patch"}
		case "patch":
			verbs = []string{"patch"}
		case "delete":
			verbs = []string{"delete"}
		default:
			continue
		}
		if r.SuccessCondition != "" || r.FailureCondition != "" {
			verbs = append(verbs, "get") // conditions are polled
		}
		target := obj.namespace
		if target == "" || strings.Contains(target, "{{") {
			target = ns
		}
		name := obj.name
		if r.Action == "create" || strings.Contains(name, "{{") {
			name = ""
		}
		sa := t.ServiceAccountName
		if sa == "" {
			sa = spec.ServiceAccountName
		}
		k := key{target, BuiltinService(engine.FunctionResource), identityNamespace(runtimeNamespace)}
		if sa != "" {
			k = key{target, sa, ns}
			// The resource function acts as sa: it may impersonate it,
			// and only it.
			imp := key{ns, BuiltinService(engine.FunctionResource), identityNamespace(runtimeNamespace)}
			byKey[imp] = append(byKey[imp], rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, ResourceNames: []string{sa}, Verbs: []string{"impersonate"}})
		}
		byKey[k] = append(byKey[k], rule(obj.gvk, name, verbs...))
	}
	var out []access
	for k, rules := range byKey {
		out = append(out, access{namespace: k.namespace, subject: k.subject, subjectNamespace: k.subjectNamespace, rules: rules})
	}
	sortAccess(out)
	return out, nil
}

func sortAccess(as []access) {
	slices.SortFunc(as, func(a, b access) int {
		return strings.Compare(a.namespace+"/"+a.subject, b.namespace+"/"+b.subject)
	})
}

// object is what RBAC needs of an object: its kind, namespace and name.
type object struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

// sourceHead reads a trigger's object; nil when it has none.
func sourceHead(src *v1alpha1.ArtifactLocation) (*object, error) {
	switch {
	case src == nil:
		return nil, nil
	case src.Resource != nil:
		return objectHead(src.Resource.Raw)
	case src.Inline != "":
		return manifestHead(src.Inline)
	}
	return nil, nil
}

// manifestHead reads a YAML or JSON manifest; nil when it is empty.
func manifestHead(manifest string) (*object, error) {
	if strings.TrimSpace(manifest) == "" {
		return nil, nil
	}
	doc, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		// Argo's manifests often hold unquoted tags (`name: {{inputs.parameters.name}}`),
		// which are YAML only once substituted: read them as quoted text,
		// a name RBAC then treats as not known in advance.
		var qerr error
		if doc, qerr = yaml.YAMLToJSON([]byte(bareTag.ReplaceAllString(manifest, `"$0"`))); qerr != nil {
			return nil, fmt.Errorf("not YAML or JSON: %w", err)
		}
	}
	return objectHead(doc)
}

// bareTag is a {{...}} tag that starts a YAML value.
var bareTag = regexp.MustCompile(`\{\{[^{}"]*\}\}`)

func objectHead(doc []byte) (*object, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("read apiVersion, kind and metadata: %w", err)
	}
	gv, err := schema.ParseGroupVersion(head.APIVersion)
	if err != nil || head.Kind == "" || strings.Contains(head.APIVersion+head.Kind, "{{") {
		return nil, fmt.Errorf("apiVersion %q and kind %q must be written out: RBAC is granted for the kind", head.APIVersion, head.Kind)
	}
	gvk := gv.WithKind(head.Kind)
	if gvk.Group == argoGroup {
		gvk.Group = v1alpha1.GroupName
	}
	return &object{gvk: gvk, namespace: head.Metadata.Namespace, name: head.Metadata.Name}, nil
}

// setsName reports whether a parameter writes the object's name.
func setsName(ps []v1alpha1.TriggerParameter) bool {
	for _, p := range ps {
		if p.Dest == "metadata.name" || strings.HasSuffix(p.Dest, ".metadata.name") || p.Dest == "metadata" {
			return true
		}
	}
	return false
}

// rule grants verbs on gvk's resource, on name only when name is set.
func rule(gvk schema.GroupVersionKind, name string, verbs ...string) rbacv1.PolicyRule {
	plural, _ := meta.UnsafeGuessKindToResource(gvk)
	r := rbacv1.PolicyRule{APIGroups: []string{gvk.Group}, Resources: []string{plural.Resource}, Verbs: verbs}
	if name != "" {
		r.ResourceNames = []string{name}
	}
	return r
}

// mergeRules joins rules on the same group, resource and names, their
// verbs sorted and without repeats, so that a Role reads as a table.
func mergeRules(rs []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource, names string }
	verbs := map[key]map[string]bool{}
	var order []key
	for _, r := range rs {
		k := key{strings.Join(r.APIGroups, ","), strings.Join(r.Resources, ","), strings.Join(r.ResourceNames, ",")}
		if verbs[k] == nil {
			verbs[k] = map[string]bool{}
			order = append(order, k)
		}
		for _, v := range r.Verbs {
			verbs[k][v] = true
		}
	}
	slices.SortFunc(order, func(a, b key) int {
		return strings.Compare(a.group+"/"+a.resource+"/"+a.names, b.group+"/"+b.resource+"/"+b.names)
	})
	out := make([]rbacv1.PolicyRule, 0, len(order))
	for _, k := range order {
		r := rbacv1.PolicyRule{APIGroups: strings.Split(k.group, ","), Resources: strings.Split(k.resource, ","), Verbs: slices.Sorted(maps.Keys(verbs[k]))}
		if k.names != "" {
			r.ResourceNames = strings.Split(k.names, ",")
		}
		out = append(out, r)
	}
	return out
}
