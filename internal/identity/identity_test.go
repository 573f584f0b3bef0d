package identity

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssuedTokensVerify(t *testing.T) {
	ctx := context.Background()
	iss, err := NewIssuer("https://zeroflow.dev/dev")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue("system:serviceaccount:default:zeroflow-controller", "eventing.knative.dev/broker/default/default")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := iss.Issue("system:serviceaccount:default:zeroflow-controller", "eventing.knative.dev/broker/default/default"); again != tok {
		t.Error("a second Issue for the same subject and audience minted a new token; want the cached one")
	}
	jwks, err := iss.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	static, err := NewStaticVerifier(iss.URL(), jwks)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*Verifier{"issuer's": iss.Verifier(), "from JWKS": static} {
		sub, err := v.Verify(ctx, tok, "eventing.knative.dev/broker/default/default")
		if err != nil || sub != "system:serviceaccount:default:zeroflow-controller" {
			t.Errorf("%s verifier: Verify = %q, %v; want the subject", name, sub, err)
		}
		if _, err := v.Verify(ctx, tok, "serving.knative.dev/service/default/zeroflow-exec"); err == nil {
			t.Errorf("%s verifier accepted a token for another audience", name)
		}
	}

	other, _ := NewIssuer("https://zeroflow.dev/dev")
	forged, _ := other.Issue("system:serviceaccount:default:zeroflow-controller", "eventing.knative.dev/broker/default/default")
	if _, err := iss.Verifier().Verify(ctx, forged, "eventing.knative.dev/broker/default/default"); err == nil {
		t.Error("a token signed by another key (same issuer name) was accepted")
	}
	parts := strings.Split(tok, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	if _, err := iss.Verifier().Verify(ctx, tampered, "eventing.knative.dev/broker/default/default"); err == nil {
		t.Error("a tampered token was accepted")
	}
	if _, err := iss.Verifier().Verify(ctx, "", "a"); err != ErrNoToken {
		t.Errorf("empty token: %v, want ErrNoToken", err)
	}
	if _, err := iss.Verifier().Verify(ctx, strings.Repeat("a", MaxTokenBytes+1), "a"); err == nil || !strings.Contains(err.Error(), "over the") {
		t.Errorf("oversized token: %v, want the limit named", err)
	}
}

func TestExpiredTokenRefused(t *testing.T) {
	iss, _ := NewIssuer("https://zeroflow.dev/dev")
	iss.ttl = -2 * time.Minute // expired before it is issued (NotBefore is a minute back)
	tok, err := iss.Issue("s", "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verifier().Verify(context.Background(), tok, "a"); err == nil {
		t.Error("an expired token was accepted")
	}
}

func TestAuthenticator(t *testing.T) {
	ctx := context.Background()
	iss, _ := NewIssuer("https://zeroflow.dev/dev")
	a := &Authenticator{Verifier: iss.Verifier(), Audience: "fn", Allowed: []string{"system:serviceaccount:default:trigger-*", "system:serviceaccount:ops:exact"}}
	header := func(sub string) http.Header {
		tok, _ := iss.Issue(sub, "fn")
		return http.Header{"Authorization": {"Bearer " + tok}}
	}
	for _, c := range []struct {
		sub  string
		code int
	}{
		{"system:serviceaccount:default:trigger-exec", 0},
		{"system:serviceaccount:ops:exact", 0},
		{"system:serviceaccount:ops:exact2", http.StatusForbidden},
		{"system:serviceaccount:other:trigger-exec", http.StatusForbidden},
	} {
		if _, code, err := a.Authenticate(ctx, header(c.sub)); code != c.code {
			t.Errorf("%s: code %d (%v), want %d", c.sub, code, err, c.code)
		}
	}
	if _, code, _ := a.Authenticate(ctx, http.Header{}); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	if _, code, _ := a.Authenticate(ctx, http.Header{"Authorization": {"Bearer "}}); code != http.StatusUnauthorized {
		t.Errorf("empty bearer: %d, want 401", code)
	}
}

func TestFileToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := FileToken(path)(context.Background())
	if err != nil || tok != "abc" {
		t.Errorf("FileToken = %q, %v", tok, err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte(" \n"), 0o600)
	if _, err := FileToken(empty)(context.Background()); err == nil {
		t.Error("an empty token file was accepted")
	}
}

func TestSubjectPatterns(t *testing.T) {
	for _, c := range []struct {
		subject, pattern string
		want             bool
	}{
		{"system:serviceaccount:ns:a", "system:serviceaccount:ns:a", true},
		{"system:serviceaccount:ns:ab", "system:serviceaccount:ns:a", false},
		{"system:serviceaccount:ns:ab", "system:serviceaccount:ns:a*", true},
		{"system:serviceaccount:ns:x", "system:serviceaccount:*", true},
		{"system:serviceaccount:argo-events:zeroflow-controller-eventbus-submit-oidc", "system:serviceaccount:*:zeroflow-controller-*", true},
		{"system:serviceaccount:argo-events:zeroflow-sensor", "system:serviceaccount:*:zeroflow-controller-*", false},
		{"system:serviceaccount::zeroflow-controller-x", "system:serviceaccount:*:zeroflow-controller-*", false},
		{"system:serviceaccount:ns", "system:serviceaccount:*:zeroflow-controller-*", false},
		{"system:node:ns:zeroflow-controller-x", "system:serviceaccount:*:zeroflow-controller-*", false},
	} {
		if got := SubjectMatches(c.subject, []string{c.pattern}); got != c.want {
			t.Errorf("SubjectMatches(%q, %q) = %v, want %v", c.subject, c.pattern, got, c.want)
		}
	}
}
