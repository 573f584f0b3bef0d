package sdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// A function with sender identity on answers only requests with a valid
// token for its audience from a subject it allows, before its handler
// sees anything, and tells the handler who called.
func TestServeAuthenticatesCallers(t *testing.T) {
	iss, err := identity.NewIssuer("https://zeroflow.dev/test")
	if err != nil {
		t.Fatal(err)
	}
	const (
		aud     = "serving.knative.dev/service/default/zeroflow-exec"
		trigger = "system:serviceaccount:default:zeroflow-step-exec-oidc-eventing.knative.dev-trigger"
	)
	var calls atomic.Int32
	var caller atomic.Value
	h := sdk.HandlerFunc(func(ctx context.Context, e event.Event) (*event.Event, error) {
		calls.Add(1)
		c, _ := sdk.CallerFrom(ctx)
		caller.Store(c.Subject)
		return nil, nil
	})
	url := serve(t, h, sdk.Options{Auth: &identity.Authenticator{Verifier: iss.Verifier(), Audience: aud, Allowed: []string{trigger}}})

	send := func(token string) int {
		e := newEvent("1", "dev.zeroflow.step.run")
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if err := cehttp.WriteRequest(context.Background(), binding.ToMessage(&e), req); err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good, _ := iss.Issue(trigger, aud)
	otherAud, _ := iss.Issue(trigger, "serving.knative.dev/service/default/zeroflow-http")
	otherSub, _ := iss.Issue("system:serviceaccount:default:default", aud)
	forger, _ := identity.NewIssuer("https://zeroflow.dev/test")
	forged, _ := forger.Issue(trigger, aud)
	for _, c := range []struct {
		name, token string
		code        int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"token for another function", otherAud, http.StatusUnauthorized},
		{"token signed by another key", forged, http.StatusUnauthorized},
		{"a subject that may not call", otherSub, http.StatusForbidden},
	} {
		if code := send(c.token); code != c.code {
			t.Errorf("%s: %d, want %d", c.name, code, c.code)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for refused requests", n)
	}
	if code := send(good); code != http.StatusAccepted {
		t.Fatalf("valid token: %d, want 202", code)
	}
	if calls.Load() != 1 || caller.Load() != trigger {
		t.Errorf("handler calls %d, caller %v; want 1 call from %s", calls.Load(), caller.Load(), trigger)
	}
}

// A sender with a token source presents it to the sink.
func TestSenderPresentsItsToken(t *testing.T) {
	got := make(chan string, 1)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	s := sdk.NewSender(sink.URL).WithToken(func(context.Context) (string, error) { return "tok", nil })
	if err := s.Send(context.Background(), newEvent("1", "t")); err != nil {
		t.Fatal(err)
	}
	if h := <-got; h != "Bearer tok" {
		t.Errorf("Authorization = %q, want Bearer tok", h)
	}
}
