package identity

import (
	"context"
	"testing"
)

// What sender identity costs per request: a cached verification is what a
// receiver pays for a sender that reuses its token (every zeroflow sender
// does), an uncached one a first request, Issue what a delivery pays.
func BenchmarkVerifyCached(b *testing.B) {
	iss, _ := NewIssuer("https://zeroflow.dev/bench")
	v := iss.Verifier()
	tok, _ := iss.Issue("system:serviceaccount:default:zeroflow-controller", "aud")
	ctx := context.Background()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok, "aud"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyUncached(b *testing.B) {
	iss, _ := NewIssuer("https://zeroflow.dev/bench")
	tok, _ := iss.Issue("system:serviceaccount:default:zeroflow-controller", "aud")
	ctx := context.Background()
	for b.Loop() {
		if _, err := iss.Verifier().Verify(ctx, tok, "aud"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueCached(b *testing.B) {
	iss, _ := NewIssuer("https://zeroflow.dev/bench")
	for b.Loop() {
		if _, err := iss.Issue("system:serviceaccount:default:t", "aud"); err != nil {
			b.Fatal(err)
		}
	}
}
