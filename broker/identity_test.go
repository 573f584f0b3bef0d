package broker_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	eventingv1alpha1 "knative.dev/eventing/pkg/apis/eventing/v1alpha1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

const (
	controllerSub = "system:serviceaccount:ns:zeroflow-controller"
	subscriberAud = "serving.knative.dev/service/ns/fn"
)

// tokenRecorder is a subscriber that records the Authorization header of
// each delivery and may answer with a reply.
type tokenRecorder struct {
	mu     sync.Mutex
	tokens []string
	types  []string
	reply  *event.Event
}

func (r *tokenRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ev, err := binding.ToEvent(req.Context(), cehttp.NewMessageFromHttpRequest(req))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.tokens = append(r.tokens, identity.BearerToken(req.Header))
	r.types = append(r.types, ev.Type())
	reply := r.reply
	r.mu.Unlock()
	if reply != nil && ev.Type() == "dev.zeroflow.step.run" {
		_ = cehttp.WriteResponseWriter(req.Context(), binding.ToMessage(reply), http.StatusOK, w)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (r *tokenRecorder) seen() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...), append([]string(nil), r.types...)
}

func identityBroker(t *testing.T, iss *identity.Issuer, eps []eventingv1alpha1.EventPolicy, triggers ...eventingv1.Trigger) *broker.Broker {
	t.Helper()
	b, err := broker.Start(context.Background(), broker.Options{DataDir: t.TempDir(), Identity: &broker.Identity{Verifier: iss.Verifier(), Issuer: iss}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	br := kbroker(testBroker, nil)
	if err := b.Apply(context.Background(), broker.Config{Brokers: []eventingv1.Broker{br}, Triggers: triggers, EventPolicies: eps}); err != nil {
		t.Fatal(err)
	}
	return b
}

func policy(name string, subs []string, filters ...eventingv1.SubscriptionsAPIFilter) eventingv1alpha1.EventPolicy {
	ep := eventingv1alpha1.EventPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: "eventing.knative.dev/v1alpha1", Kind: "EventPolicy"},
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name},
		Spec: eventingv1alpha1.EventPolicySpec{
			To:      []eventingv1alpha1.EventPolicySpecTo{{Ref: &eventingv1alpha1.EventPolicyToReference{APIVersion: "eventing.knative.dev/v1", Kind: "Broker", Name: testBroker}}},
			Filters: filters,
		},
	}
	for _, s := range subs {
		ep.Spec.From = append(ep.Spec.From, eventingv1alpha1.EventPolicySpecFrom{Sub: &s})
	}
	return ep
}

func postAs(t *testing.T, url, token string, ev event.Event) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&ev), req); err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	body.Write(buf[:n])
	return resp.StatusCode, body.String()
}

func idEvent(id, typ string) event.Event {
	e := event.New()
	e.SetID(id)
	e.SetType(typ)
	e.SetSource("/test")
	_ = e.SetData(event.ApplicationJSON, map[string]int{"n": 1})
	return e
}

// With sender identity on, the ingress takes an event only with a valid
// token for the broker's audience (401) from a subject an EventPolicy lets
// send that event (403); deliveries carry the Trigger's identity for the
// subscriber's audience; nothing refused is stored or delivered.
func TestIngressEnforcesEventPolicies(t *testing.T) {
	iss, _ := identity.NewIssuer("https://zeroflow.dev/test")
	rec := &tokenRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	aud := subscriberAud
	tr := trigger("to-fn", srv.URL)
	tr.Spec.Subscriber.Audience = &aud
	b := identityBroker(t, iss, []eventingv1alpha1.EventPolicy{
		policy("controller", []string{controllerSub}, eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"type": "dev.zeroflow.step.run"}}),
	}, tr)
	url := b.Address(testNS, testBroker)
	brokerAud := "eventing.knative.dev/broker/" + testNS + "/" + testBroker
	good, _ := iss.Issue(controllerSub, brokerAud)
	wrongAud, _ := iss.Issue(controllerSub, "eventing.knative.dev/broker/other/default")
	stranger, _ := iss.Issue("system:serviceaccount:ns:intruder", brokerAud)
	forger, _ := identity.NewIssuer("https://zeroflow.dev/test")
	forged, _ := forger.Issue(controllerSub, brokerAud)
	for _, c := range []struct {
		name, token, typ string
		code             int
	}{
		{"no token", "", "dev.zeroflow.step.run", http.StatusUnauthorized},
		{"token for another broker", wrongAud, "dev.zeroflow.step.run", http.StatusUnauthorized},
		{"token signed by another key", forged, "dev.zeroflow.step.run", http.StatusUnauthorized},
		{"a subject no policy names", stranger, "dev.zeroflow.step.run", http.StatusForbidden},
		{"a type the controller may not send", good, "dev.zeroflow.step.result", http.StatusForbidden},
	} {
		if code, body := postAs(t, url, c.token, idEvent(c.name, c.typ)); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
	}
	if code, body := postAs(t, url, good, idEvent("ok", "dev.zeroflow.step.run")); code != http.StatusAccepted {
		t.Fatalf("allowed event: %d %s", code, body)
	}
	deadline := time.Now().Add(waitDeadline)
	for {
		tokens, types := rec.seen()
		if len(tokens) > 0 {
			if len(tokens) != 1 || types[0] != "dev.zeroflow.step.run" {
				t.Fatalf("delivered %v, want only the allowed event", types)
			}
			sub, err := iss.Verifier().Verify(context.Background(), tokens[0], subscriberAud)
			want := identity.ResourceSubject(eventingv1.SchemeGroupVersion.WithKind("Trigger"), testNS, "to-fn")
			if err != nil || sub != want {
				t.Errorf("delivery token: subject %q, %v; want %q for the subscriber's audience", sub, err, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the allowed event was not delivered")
		}
		time.Sleep(pollEvery)
	}
	time.Sleep(settlePeriod)
	if _, types := rec.seen(); len(types) != 1 {
		t.Errorf("refused events were delivered: %v", types)
	}
}

// An in-process producer must say who it is, and is held to the same
// policies; a broker no policy applies to takes senders of its own
// namespace only (Knative's allow-same-namespace default).
func TestPublishAsAndTheDefaultMode(t *testing.T) {
	iss, _ := identity.NewIssuer("https://zeroflow.dev/test")
	b := identityBroker(t, iss, nil)
	ctx := context.Background()
	if err := b.Publish(ctx, testNS, testBroker, idEvent("1", "t")); err == nil {
		t.Error("Publish without an identity was accepted with sender identity on")
	}
	if err := b.PublishAs(ctx, "system:serviceaccount:other:x", testNS, testBroker, idEvent("2", "t")); err == nil {
		t.Error("a sender of another namespace was accepted by a broker no policy applies to")
	}
	if err := b.PublishAs(ctx, "system:serviceaccount:ns:x", testNS, testBroker, idEvent("3", "t")); err != nil {
		t.Errorf("a sender of the broker's namespace was refused: %v", err)
	}
}

// A reply is sent with the Trigger's identity: one the policies do not let
// the Trigger send is not stored, and the original event goes to the
// dead-letter sink with the real reason.
func TestReplyIsAuthorizedAsTheTrigger(t *testing.T) {
	iss, _ := identity.NewIssuer("https://zeroflow.dev/test")
	forgedResult := idEvent("r", "dev.zeroflow.workflow.submit")
	rec := &tokenRecorder{reply: &forgedResult}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	dead := &tokenRecorder{}
	dls := httptest.NewServer(dead)
	defer dls.Close()
	aud := subscriberAud
	tr := trigger("step", srv.URL)
	tr.Spec.Subscriber.Audience = &aud
	dlsURL := mustURL(dls.URL)
	tr.Spec.Delivery = delivery(retry(0), func(d *eventingduckv1.DeliverySpec) { d.DeadLetterSink = &duckv1.Destination{URI: dlsURL} })
	all := trigger("all", srv.URL)
	all.Spec.Subscriber.Audience = &aud
	stepSub := identity.ResourceSubject(eventingv1.SchemeGroupVersion.WithKind("Trigger"), testNS, "step")
	b := identityBroker(t, iss, []eventingv1alpha1.EventPolicy{
		policy("controller", []string{controllerSub}, eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"type": "dev.zeroflow.step.run"}}),
		policy("results", []string{stepSub}, eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"type": "dev.zeroflow.step.result"}}),
	}, tr, all)
	tok, _ := iss.Issue(controllerSub, "eventing.knative.dev/broker/"+testNS+"/"+testBroker)
	if code, body := postAs(t, b.Address(testNS, testBroker), tok, idEvent("run", "dev.zeroflow.step.run")); code != http.StatusAccepted {
		t.Fatalf("step.run: %d %s", code, body)
	}
	deadline := time.Now().Add(waitDeadline)
	for {
		if _, types := dead.seen(); len(types) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event whose reply was refused did not reach the dead-letter sink")
		}
		time.Sleep(pollEvery)
	}
	time.Sleep(settlePeriod)
	_, types := rec.seen()
	for _, typ := range types {
		if typ == "dev.zeroflow.workflow.submit" {
			t.Fatal("the refused reply was stored and delivered")
		}
	}
}
