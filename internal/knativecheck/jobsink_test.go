package knativecheck_test

import (
	"context"
	"strings"
	"testing"

	"github.com/zeroflow-dev/zeroflow/internal/knativecheck"
)

func jobSink(job string) string {
	return "apiVersion: sinks.knative.dev/v1alpha1\nkind: JobSink\nmetadata: {name: steps, namespace: default}\nspec:\n" + job
}

// A JobSink goes through eventing's own Validate, which creates its Job in
// dry run: a Job that Kubernetes would refuse makes the JobSink invalid,
// with the Job's problem named.
func TestJobSink(t *testing.T) {
	const pod = "      template: {spec: {restartPolicy: %s, containers: [{name: step, image: zeroflow, args: [function, exec-job]}]}}\n"
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"valid", jobSink("  job:\n    spec:\n" + strings.Replace(pod, "%s", "Never", 1)), ""},
		{"no job", jobSink("  {}\n"), "job"},
		{"a pod restarted for ever", jobSink("  job:\n    spec:\n" + strings.Replace(pod, "%s", "Always", 1)), "restartPolicy"},
		{"no containers", jobSink("  job:\n    spec:\n      template: {spec: {restartPolicy: Never}}\n"), "containers"},
		{"bad name", strings.Replace(jobSink("  job:\n    spec:\n"+strings.Replace(pod, "%s", "Never", 1)), "name: steps", "name: Steps_1", 1), "metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj, err := knativecheck.Decode([]byte(tc.doc))
			if err == nil {
				err = knativecheck.Object(context.Background(), obj)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("valid JobSink refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("err %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}
