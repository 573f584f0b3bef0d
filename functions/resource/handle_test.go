package resource_test

import (
	"testing"

	"github.com/zeroflow-dev/zeroflow/functions/resource"
)

func TestHolds(t *testing.T) {
	doc := []byte(`{"status": {"phase": "Succeeded", "succeeded": 2, "failed": 0, "conditions": [{"type": "Ready"}]}, "metadata": {"name": "x"}}`)
	for _, c := range []struct {
		cond string
		want bool
		err  bool
	}{
		{"status.phase == Succeeded", true, false},
		{"status.phase = Succeeded", true, false},
		{"status.phase != Succeeded", false, false},
		{"status.phase in (Failed, Error)", false, false},
		{"status.phase notin (Failed, Error)", true, false},
		{"status.succeeded > 1", true, false},
		{"status.succeeded > 2", false, false},
		{"status.failed < 1", true, false},
		{"status.succeeded > 0,status.failed == 0", true, false},
		{"status.succeeded > 0,status.failed > 0", false, false},
		{"status.missing", false, false},
		{"status.phase", true, false},
		{"!status.missing", true, false},
		{"status.missing == x", false, false},
		{"status.missing != x", true, false},
		{"status.conditions.0.type == Ready", true, false},
		{"status.succeeded > two", false, true},
		{"status.phase == a b", false, true},
	} {
		got, err := resource.Holds(c.cond, doc)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("Holds(%q) = %v, %v; want %v, error %v", c.cond, got, err, c.want, c.err)
		}
	}
}
