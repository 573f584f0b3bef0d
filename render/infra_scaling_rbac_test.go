package render_test

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
	"github.com/zeroflow-dev/zeroflow/render"
)

// The RBAC examples/infra-scaling needs on a cluster (issue 19): its
// Sensors' ServiceAccount may create and delete CronWorkflows (the shipped
// RBAC lets no sensor), the steps of the CronWorkflows it creates may
// delete CronWorkflows (their names come from a tag, so any of the
// namespace), and nothing more; every object passes the least-privilege
// checks, and a widened Role does not.
func TestInfraScalingExampleRBAC(t *testing.T) {
	rbac, err := render.RBAC(inputOf(t, "../examples/infra-scaling"), "zeroflow")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range rbac.Roles {
		var rules []string
		for _, rule := range r.Rules {
			if rule.APIGroups[0] == "zeroflow.dev" && rule.Resources[0] == "cronworkflows" {
				rules = append(rules, strings.Join(rule.ResourceNames, ",")+":"+strings.Join(rule.Verbs, ","))
			}
		}
		got[r.Namespace+"/"+r.Name] = strings.Join(rules, " ")
	}
	for role, want := range map[string]string{
		"argo-events/sensor-create-infra-argo-events": ":create",
		"argo-events/sensor-delete-infra-argo-events": ":delete",
	} {
		if got[role] != want {
			t.Errorf("%s: cronworkflow rules %q, want %q (all: %v)", role, got[role], want, got)
		}
	}
	deletes := false
	for role, rules := range got {
		if strings.HasPrefix(role, "argo-events/workflowtemplate-workflow-template-cron-delete") && rules == ":delete" {
			deletes = true
		}
	}
	if !deletes {
		t.Errorf("no Role lets the cron-delete step delete CronWorkflows: %v", got)
	}
	for _, o := range rbac.List() {
		if err := knativecheck.Object(context.Background(), o); err != nil {
			t.Errorf("%T: %v", o, err)
		}
	}
	wide := rbac.Roles[0].DeepCopy()
	wide.Rules = append(wide.Rules, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"cronworkflows"}, Verbs: []string{"delete"}})
	if err := knativecheck.Object(context.Background(), wide); err == nil {
		t.Error("a Role on every API group passed")
	}
}
