package render_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/render"
)

// A non-default eventBusName in another namespace renders what a cluster
// needs: the Broker (with zeroflow's delivery, dead letters to the
// runtime's dead-letter function in its namespace), the controller's
// Triggers on it (named per broker, delivering to the controller's
// namespace), the sensor's policies on it, and a default Broker where the
// CronWorkflow fires; all valid as Knative checks them.
func TestRenderEventBusInAnotherNamespace(t *testing.T) {
	in := inputOf(t, "testdata/eventbus")
	out, err := render.Render(in, "zeroflow", "default", render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	brokers := render.EventBusBrokers(in, "zeroflow", "default", render.ClassMTChannel, nil, nil)
	var names []string
	for _, b := range brokers {
		names = append(names, b.Namespace+"/"+b.Name)
		dls := b.Spec.Delivery.DeadLetterSink
		if dls == nil || dls.Ref == nil || dls.Ref.Namespace != "zeroflow" || dls.Ref.Name != "zeroflow-dead-letter" || b.Spec.Delivery.Retry == nil {
			t.Errorf("broker %s delivery %+v: want retries and the runtime's dead-letter function", b.Name, b.Spec.Delivery)
		}
	}
	if strings.Join(names, ",") != "argo-events/default,argo-events/eventbus" {
		t.Errorf("brokers %v", names)
	}
	if got := render.EventBusBrokers(in, "zeroflow", "default", render.ClassMTChannel, nil, brokers[:1]); len(got) != 1 || got[0].Name != "eventbus" {
		t.Errorf("a declared Broker is made again: %v", got)
	}
	out.Brokers = brokers
	var triggers []string
	for _, tr := range out.Triggers {
		if tr.Labels[render.LabelComponent] == "controller" {
			triggers = append(triggers, tr.Namespace+"/"+tr.Name+"@"+tr.Spec.Broker)
			if tr.Spec.Subscriber.URI == nil || tr.Spec.Subscriber.URI.Host != "zeroflow-controller.zeroflow.svc.cluster.local" {
				t.Errorf("trigger %s delivers to %+v, want the controller in its namespace", tr.Name, tr.Spec.Subscriber)
			}
		}
	}
	for _, want := range []string{"argo-events/zeroflow-controller-eventbus-submit@eventbus", "argo-events/zeroflow-controller-submit@default"} {
		if !slices.Contains(triggers, want) {
			t.Errorf("controller triggers %v: no %s", triggers, want)
		}
	}
	var policies []string
	for _, p := range out.EventPolicies {
		policies = append(policies, p.Namespace+"/"+p.Name+"@"+p.Spec.To[0].Ref.Name)
	}
	if !slices.Contains(policies, "argo-events/zeroflow-sensor-eventbus-as-operate-workflow-sa@eventbus") {
		t.Errorf("no policy of the sensor's own ServiceAccount on eventbus: %v", policies)
	}
	// The CronWorkflow's Broker takes its pings only: it is not open to
	// anyone who would submit through the controller's Triggers there.
	if !slices.Contains(policies, "argo-events/zeroflow-cron@default") {
		t.Errorf("the CronWorkflow's Broker has no policy: %v", policies)
	}
	for _, svc := range out.Services {
		if svc.Name == "scaling-sensor" && svc.Spec.Template.Spec.ServiceAccountName != "operate-workflow-sa" {
			t.Errorf("sensor function runs as %q", svc.Spec.Template.Spec.ServiceAccountName)
		}
	}
	for _, o := range out.List() {
		if err := knativecheck.Object(context.Background(), o); err != nil {
			t.Errorf("%T: %v", o, err)
		}
	}
}

// The RBAC of the pattern: what the Sensor's triggers and the
// CronWorkflow's resource steps do, and nothing else, each bound to who
// acts; valid and least privilege as knativecheck checks them, and a
// widened rule is caught.
func TestRBACIsWhatTriggersAndStepsDo(t *testing.T) {
	rbac, err := render.RBAC(inputOf(t, "testdata/eventbus"), "zeroflow")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for i, r := range rbac.Roles {
		b := rbac.RoleBindings[i]
		if b.Name != r.Name || b.RoleRef.Name != r.Name {
			t.Fatalf("role %s bound by %s", r.Name, b.Name)
		}
		var rules []string
		for _, rule := range r.Rules {
			rules = append(rules, strings.Join(rule.APIGroups, ",")+"/"+strings.Join(rule.Resources, ",")+"["+strings.Join(rule.ResourceNames, ",")+"]:"+strings.Join(rule.Verbs, ","))
		}
		s := b.Subjects[0]
		got[r.Namespace+"/"+r.Name+" -> "+s.Namespace+"/"+s.Name] = strings.Join(rules, " ")
	}
	want := map[string]string{
		"argo-events/sensor-scaling-operate-workflow-sa -> argo-events/operate-workflow-sa":   "zeroflow.dev/cronworkflows[]:create zeroflow.dev/cronworkflows[scale-down]:delete zeroflow.dev/sensors[]:get,list,watch zeroflow.dev/sensors/status[]:get,patch,update zeroflow.dev/workflows[]:create,get,list,patch",
		"argo-events/cronworkflow-scale-down-scaler -> argo-events/scaler":                    "zeroflow.dev/cronworkflows[scale-down]:delete",
		"argo-events/cronworkflow-scale-down-noter -> argo-events/noter":                      "/configmaps[]:create,get",
		"argo-events/cronworkflow-scale-down-zeroflow-resource -> zeroflow/zeroflow-resource": "/serviceaccounts[noter]:impersonate /serviceaccounts[scaler]:impersonate",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s:\n got %q\nwant %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("roles %v", got)
	}
	if len(rbac.ServiceAccounts) != 1 || rbac.ServiceAccounts[0].Name != "operate-workflow-sa" {
		t.Errorf("service accounts %v", rbac.ServiceAccounts)
	}
	for _, o := range rbac.List() {
		if err := knativecheck.Object(context.Background(), o); err != nil {
			t.Errorf("%T: %v", o, err)
		}
	}
	// Negative: the same Role widened to any resource, or a binding to
	// cluster-admin, is refused.
	wide := rbac.Roles[0].DeepCopy()
	wide.Rules = append(wide.Rules, rbacv1.PolicyRule{APIGroups: []string{"zeroflow.dev"}, Resources: []string{"*"}, Verbs: []string{"delete"}})
	if err := knativecheck.Object(context.Background(), wide); err == nil || !strings.Contains(err.Error(), "least privilege") {
		t.Errorf("a Role on every resource passed: %v", err)
	}
	admin := rbac.RoleBindings[0].DeepCopy()
	admin.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"}
	if err := knativecheck.Object(context.Background(), admin); err == nil {
		t.Error("a binding to cluster-admin passed")
	}
}
