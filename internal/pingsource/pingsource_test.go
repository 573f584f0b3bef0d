package pingsource_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/internal/pingsource"
)

func source(schedule string) sourcesv1.PingSource {
	return sourcesv1.PingSource{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-cron", Namespace: "team-a"},
		Spec: sourcesv1.PingSourceSpec{
			Schedule: schedule, ContentType: "application/json", Data: `{"cronWorkflow":"nightly"}`,
			SourceSpec: duckv1.SourceSpec{
				Sink:                duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: "default"}},
				CloudEventOverrides: &duckv1.CloudEventOverrides{Extensions: map[string]string{"zfcronworkflow": "nightly"}},
			},
		},
	}
}

func TestEventIsKnativesPing(t *testing.T) {
	src := source("0 3 * * *")
	at := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	ev, err := pingsource.Event(&src, at)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type() != "dev.knative.sources.ping" || ev.Source() != "/apis/v1/namespaces/team-a/pingsources/nightly-cron" ||
		!ev.Time().Equal(at) || ev.Extensions()["zfcronworkflow"] != "nightly" || string(ev.Data()) != `{"cronWorkflow":"nightly"}` || ev.DataContentType() != "application/json" {
		t.Errorf("event %s", ev)
	}
	if err := ev.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRunFiresOnScheduleIntoTheSinkBroker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu  sync.Mutex
		got []string
	)
	done := make(chan error, 1)
	go func() {
		done <- pingsource.Run(ctx, []sourcesv1.PingSource{source("* * * * * *")}, func(_ context.Context, sender, ns, broker string, ev event.Event) error {
			if !strings.HasSuffix(sender, "-oidc-sources.knative.dev-pingsource") {
				t.Errorf("sender %q is not the PingSource's OIDC identity", sender)
			}
			mu.Lock()
			defer mu.Unlock()
			got = append(got, ns+"/"+broker+" "+ev.Extensions()["zfcronworkflow"].(string))
			return nil
		}, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fired %d times in 10s", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got[0] != "team-a/default nightly" {
		t.Errorf("published %v", got)
	}
}

func TestRunRejectsWhatItCannotRun(t *testing.T) {
	bad := source("every night")
	noBroker := source("@hourly")
	noBroker.Spec.Sink = duckv1.Destination{Ref: &duckv1.KReference{APIVersion: "v1", Kind: "Service", Name: "x"}}
	badTZ := source("@hourly")
	badTZ.Spec.Timezone = "Mars/Olympus"
	for want, src := range map[string]sourcesv1.PingSource{"schedule": bad, "Broker": noBroker, "timezone": badTZ} {
		err := pingsource.Run(context.Background(), []sourcesv1.PingSource{src}, nil, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// A Scheduler's PingSources come and go while it runs: a set applied
// fires, a changed set replaces it, and a removed one fires no more.
func TestSchedulerAppliesAndRemovesWhileRunning(t *testing.T) {
	var (
		mu  sync.Mutex
		got = map[string]int{}
	)
	count := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return got[name]
	}
	s := pingsource.NewScheduler(func(_ context.Context, _, _, _ string, ev event.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got[ev.Source()[strings.LastIndex(ev.Source(), "/")+1:]]++
		return nil
	}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("after 10s: %s (%v)", what, got)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a, b := source("* * * * * *"), source("* * * * * *")
	a.Name, b.Name = "a", "b"
	if err := s.Apply("team-a/nightly", []sourcesv1.PingSource{a}); err != nil {
		t.Fatal(err)
	}
	waitFor("a fires", func() bool { return count("a") >= 1 })
	if err := s.Apply("team-a/nightly", []sourcesv1.PingSource{b}); err != nil {
		t.Fatal(err)
	}
	if names := s.Scheduled("team-a/nightly"); len(names) != 1 || names[0].Name != "b" {
		t.Errorf("scheduled %v, want b only", names)
	}
	waitFor("b fires", func() bool { return count("b") >= 1 })
	aAfter := count("a")
	bad := source("every night")
	if err := s.Apply("team-a/nightly", []sourcesv1.PingSource{bad}); err == nil {
		t.Error("a schedule that does not parse was applied")
	}
	s.Remove("team-a/nightly")
	bAfter := count("b")
	time.Sleep(2500 * time.Millisecond)
	// One firing may have been under way as each set went.
	if count("a") > aAfter+1 || count("b") > bAfter+1 {
		t.Errorf("removed PingSources fired on: %v", got)
	}
	if len(s.Scheduled("team-a/nightly")) != 0 {
		t.Error("still scheduled after Remove")
	}
}
