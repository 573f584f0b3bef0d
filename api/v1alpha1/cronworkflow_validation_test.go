package v1alpha1_test

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

func TestValidateCronWorkflow(t *testing.T) {
	const base = `
metadata: {name: nightly}
spec:
  schedules: ["0 3 * * *"]
  workflowSpec:
    entrypoint: main
    templates: [{name: main, script: {image: a, command: [sh], source: "echo"}}]
`
	for _, tc := range []struct {
		name, patch string
		// want is a piece of the error; "" means valid.
		want string
	}{
		{"valid", "", ""},
		{"descriptor, seconds and timezone", "  schedule: '@hourly'\n  schedules: ['*/10 * * * * *']\n  timezone: Europe/Berlin\n  concurrencyPolicy: Replace\n", ""},
		{"@every, which Knative rejects", "  schedule: '@every 10m'\n", "Knative"},
		{"bad schedule", "  schedule: 'at noon'\n", "spec.schedule"},
		{"bad timezone", "  timezone: Mars/Base\n", "spec.timezone"},
		{"bad policy", "  concurrencyPolicy: Sometimes\n", "spec.concurrencyPolicy"},
		{"negative history", "  successfulJobsHistoryLimit: -1\n", "spec.successfulJobsHistoryLimit"},
		{"negative deadline", "  startingDeadlineSeconds: -5\n", "spec.startingDeadlineSeconds"},
		{"no schedule", "  schedules: []\n", "spec.schedules"},
		{"name too long", "", "metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := base + tc.patch
			if tc.name == "name too long" {
				doc = strings.Replace(doc, "name: nightly", "name: "+strings.Repeat("n", 53), 1)
			}
			var cw v1alpha1.CronWorkflow
			if err := yaml.Unmarshal([]byte(doc), &cw); err != nil {
				t.Fatal(err)
			}
			errs := v1alpha1.ValidateCronWorkflow(&cw)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("rejected: %v", errs.ToAggregate())
			case tc.want != "" && (len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.want)):
				t.Errorf("want an error at %s, got %v", tc.want, errs.ToAggregate())
			}
		})
	}
}
