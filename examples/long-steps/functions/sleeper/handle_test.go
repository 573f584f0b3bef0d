package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

func input(seconds, journal string) sdk.StepInput {
	return sdk.NewStepInput(events.StepRun{Workflow: "wf", NodeID: "main", Attempt: 2, Template: v1alpha1.Template{
		Inputs: v1alpha1.Inputs{Parameters: []v1alpha1.Parameter{{Name: "seconds", Value: v1alpha1.ParseAnyString(seconds)}, {Name: "journal", Value: v1alpha1.ParseAnyString(journal)}}},
	}})
}

func TestSleepsAndJournals(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	start := time.Now()
	out, err := Handle(context.Background(), input("0.2", journal))
	if err != nil || out.Result == nil {
		t.Fatalf("Handle: %v %v", out, err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("slept %s, want 200ms", d)
	}
	b, _ := os.ReadFile(journal)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "start wf main 2 ") || !strings.HasPrefix(lines[1], "end wf main 2 ") {
		t.Errorf("journal:\n%s", b)
	}
}

func TestStopsWhenCancelled(t *testing.T) {
	journal := filepath.Join(t.TempDir(), "journal")
	ctx, cancel := context.WithCancelCause(context.Background())
	time.AfterFunc(100*time.Millisecond, func() { cancel(errors.New("the test says stop")) })
	_, err := Handle(ctx, input("60", journal))
	if err == nil || !strings.Contains(err.Error(), "the test says stop") {
		t.Fatalf("Handle: %v, want the cancel's cause", err)
	}
	b, _ := os.ReadFile(journal)
	if !strings.Contains(string(b), "cancelled wf main 2") {
		t.Errorf("journal:\n%s", b)
	}
}

func TestRefusesABadDuration(t *testing.T) {
	for _, s := range []string{"", "x", "-1", "100000"} {
		if _, err := Handle(context.Background(), input(s, "")); err == nil || !strings.Contains(err.Error(), "parameter seconds") {
			t.Errorf("seconds %q: %v", s, err)
		}
	}
}
