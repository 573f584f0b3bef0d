package sdk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
)

// With sender identity on, the namespace a reference is checked against
// is the verified Trigger's: a Kn-Namespace header cannot make team-b's
// Trigger read team-a's object.
func TestOffloadNamespaceFollowsTheVerifiedCaller(t *testing.T) {
	ctx := context.Background()
	iss, err := identity.NewIssuer("https://zeroflow.dev/test")
	if err != nil {
		t.Fatal(err)
	}
	const aud = "serving.knative.dev/service/team-b/fn"
	teamA := sdk.ServiceAccountSubject("team-a", "trigger")
	teamB := sdk.ServiceAccountSubject("team-b", "trigger")
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	data := bigData(70 << 10)
	ref, err := sdk.PutValue(ctx, store, "team-a", data)
	if err != nil {
		t.Fatal(err)
	}
	url := serve(t, sdk.HandlerFunc(func(context.Context, event.Event) (*event.Event, error) { return nil, nil }), sdk.Options{
		Auth:    &identity.Authenticator{Verifier: iss.Verifier(), Audience: aud, Allowed: []string{teamA, teamB}},
		Offload: sdk.EventOffload{Store: store}, Namespace: "team-b",
	})
	for _, c := range []struct {
		subject, header string
		want            int
	}{
		{teamA, "", http.StatusAccepted},
		{teamB, "", http.StatusBadRequest},
		{teamB, "team-a", http.StatusBadRequest},
	} {
		e := bigEvent("1", "t", nil)
		e.DataEncoded = nil
		e.SetExtension(events.ExtDataRef, ref.Key)
		e.SetExtension(events.ExtDataSize, fmt.Sprint(ref.Size))
		e.SetExtension(events.ExtDataDigest, ref.Digest)
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if err := writeBinary(ctx, &e, req); err != nil {
			t.Fatal(err)
		}
		tok, _ := iss.Issue(c.subject, aud)
		req.Header.Set("Authorization", "Bearer "+tok)
		if c.header != "" {
			req.Header.Set("Kn-Namespace", c.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s with Kn-Namespace %q: %d (%s), want %d", c.subject, c.header, resp.StatusCode, body, c.want)
		}
	}
}
