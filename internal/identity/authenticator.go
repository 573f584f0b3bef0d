package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"k8s.io/client-go/rest"
)

// Authenticator checks the callers of one receiver: a valid token for its
// audience, from a subject it allows.
type Authenticator struct {
	Verifier *Verifier
	// Audience is the receiver's own audience.
	Audience string
	// Allowed are the subjects that may call (a trailing * matches a
	// prefix); empty allows any subject with a valid token.
	Allowed []string
}

// Authenticate returns the caller's subject, or the HTTP status to answer
// (401 without a valid token, 403 for a subject not allowed) and why.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (string, int, error) {
	sub, err := a.Verifier.Verify(ctx, BearerToken(h), a.Audience)
	if err != nil {
		return "", http.StatusUnauthorized, err
	}
	if len(a.Allowed) > 0 && !SubjectMatches(sub, a.Allowed) {
		return sub, http.StatusForbidden, fmt.Errorf("identity: %s may not call %s", sub, a.Audience)
	}
	return sub, 0, nil
}

// AuthenticatorFromEnv is the authenticator a function's environment asks
// for (EnvAudience, EnvIssuer, EnvJWKSFile, EnvAllowedSubjects); nil when
// EnvAudience is unset, that is, when sender identity is off.
func AuthenticatorFromEnv(ctx context.Context) (*Authenticator, error) {
	aud := os.Getenv(EnvAudience)
	if aud == "" {
		return nil, nil
	}
	issuer := os.Getenv(EnvIssuer)
	if issuer == "" {
		return nil, fmt.Errorf("identity: %s is set but %s is not: name the issuer whose tokens to accept", EnvAudience, EnvIssuer)
	}
	var (
		v   *Verifier
		err error
	)
	if path := os.Getenv(EnvJWKSFile); path != "" {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			return nil, fmt.Errorf("identity: %s: %w", EnvJWKSFile, rerr)
		}
		v, err = NewStaticVerifier(issuer, b)
	} else {
		var client *http.Client
		// In a pod, the API server's discovery needs its CA and, unless
		// anonymous discovery is allowed, the pod's own token.
		if cfg, cerr := rest.InClusterConfig(); cerr == nil {
			if client, err = rest.HTTPClientFor(cfg); err != nil {
				return nil, fmt.Errorf("identity: in-cluster client: %w", err)
			}
		} else if !errors.Is(cerr, rest.ErrNotInCluster) {
			return nil, fmt.Errorf("identity: in-cluster config: %w", cerr)
		}
		v, err = NewDiscoveryVerifier(ctx, issuer, client)
	}
	if err != nil {
		return nil, err
	}
	return &Authenticator{Verifier: v, Audience: aud, Allowed: splitList(os.Getenv(EnvAllowedSubjects))}, nil
}

// TokenFromEnv is the token source of EnvTokenFile (nil when unset).
func TokenFromEnv() TokenSource {
	if path := os.Getenv(EnvTokenFile); path != "" {
		return FileToken(path)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
