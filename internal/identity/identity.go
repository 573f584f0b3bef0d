// Package identity is sender identity on the event plane, the way Knative
// Eventing's authentication-oidc does it: every request carries a JWT whose
// audience names its receiver and whose subject names its sender. On a
// cluster the tokens are Kubernetes ServiceAccount tokens, checked against
// the cluster's OIDC issuer; `zeroflow dev` issues its own with an Issuer,
// and the same Verifier checks both.
package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"knative.dev/eventing/pkg/auth"
)

// Environment of a function, for its identity (render sets it on a
// cluster, the dev stack locally).
const (
	// EnvAudience is the audience a request to the function must carry;
	// unset, the function does not authenticate its callers.
	EnvAudience = "ZEROFLOW_OIDC_AUDIENCE"
	// EnvAllowedSubjects lists, comma-separated, the subjects that may
	// call the function (a trailing * matches a prefix, as in
	// EventPolicies); unset, any subject with a valid token may.
	EnvAllowedSubjects = "ZEROFLOW_OIDC_ALLOWED_SUBJECTS"
	// EnvTokenFile is the function's own token for the broker (a
	// projected ServiceAccount token on a cluster), re-read as it rotates.
	EnvTokenFile = "ZEROFLOW_OIDC_TOKEN_FILE"
	// EnvIssuer is the issuer whose tokens the function accepts; its keys
	// come from EnvJWKSFile when set, else from the issuer's discovery
	// document.
	EnvIssuer   = "ZEROFLOW_OIDC_ISSUER"
	EnvJWKSFile = "ZEROFLOW_OIDC_JWKS_FILE"
)

// Limits of tokens.
const (
	// DefaultTTL is how long an issued token is valid, as a projected
	// ServiceAccount token is by default.
	DefaultTTL = time.Hour
	// MaxTokenBytes bounds a token a verifier looks at.
	MaxTokenBytes = 8 << 10
	// verifiedCacheSize bounds the tokens a Verifier remembers as valid.
	verifiedCacheSize = 4096
)

// ErrNoToken is a request without a bearer token.
var ErrNoToken = errors.New("no bearer token: the request carries no Authorization: Bearer <token>")

// Issuer mints ES256 tokens for subjects and audiences, as the Kubernetes
// API server does for ServiceAccounts. Tokens are cached per subject and
// audience until most of their life has passed: the data plane asks for
// one per request.
type Issuer struct {
	url    string
	key    *ecdsa.PrivateKey
	keyID  string
	signer jose.Signer
	ttl    time.Duration

	mu     sync.Mutex
	issued map[[2]string]issuedToken
}

type issuedToken struct {
	raw     string
	renewAt time.Time
}

// NewIssuer makes an issuer with a fresh key; url is its iss claim.
func NewIssuer(url string) (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: generate the issuer key: %w", err)
	}
	var kid [8]byte
	_, _ = rand.Read(kid[:])
	keyID := fmt.Sprintf("%x", kid)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: keyID}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("identity: signer: %w", err)
	}
	return &Issuer{url: url, key: key, keyID: keyID, signer: signer, ttl: DefaultTTL, issued: map[[2]string]issuedToken{}}, nil
}

// URL is the issuer's iss claim.
func (i *Issuer) URL() string { return i.url }

// Issue returns a token for subject with audience.
func (i *Issuer) Issue(subject, audience string) (string, error) {
	now := time.Now()
	k := [2]string{subject, audience}
	i.mu.Lock()
	defer i.mu.Unlock()
	if t, ok := i.issued[k]; ok && now.Before(t.renewAt) {
		return t.raw, nil
	}
	claims := jwt.Claims{
		Issuer:   i.url,
		Subject:  subject,
		Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now),
		// A little before now, for clocks that differ.
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		Expiry:    jwt.NewNumericDate(now.Add(i.ttl)),
	}
	raw, err := jwt.Signed(i.signer).Claims(claims).CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("identity: sign a token for %s: %w", subject, err)
	}
	if len(i.issued) >= verifiedCacheSize {
		clear(i.issued)
	}
	i.issued[k] = issuedToken{raw: raw, renewAt: now.Add(i.ttl * 4 / 5)}
	return raw, nil
}

// JWKS is the issuer's public key set, as an OIDC issuer serves it.
func (i *Issuer) JWKS() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.keyID, Algorithm: string(jose.ES256), Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("identity: encode the key set: %w", err)
	}
	return b, nil
}

// Verifier checks the tokens of one issuer.
type Verifier struct {
	issuer string
	keys   oidc.KeySet

	mu        sync.Mutex
	verifiers map[string]*oidc.IDTokenVerifier
	// verified remembers tokens already checked, by audience and token,
	// until they expire: a sender reuses its token for every request, and
	// a signature check costs more than the rest of a delivery.
	verified map[[2]string]verifiedToken
}

type verifiedToken struct {
	subject string
	expiry  time.Time
}

// NewVerifier checks the tokens of the issuer of iss.
func (i *Issuer) Verifier() *Verifier {
	return newVerifier(i.url, &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&i.key.PublicKey}})
}

// NewStaticVerifier checks tokens of issuer signed by one of the keys of
// a JSON Web Key Set.
func NewStaticVerifier(issuer string, jwks []byte) (*Verifier, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("identity: key set of %s: %w", issuer, err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("identity: the key set of %s has no keys", issuer)
	}
	keys := make([]crypto.PublicKey, 0, len(set.Keys))
	for _, k := range set.Keys {
		keys = append(keys, k.Key)
	}
	return newVerifier(issuer, &oidc.StaticKeySet{PublicKeys: keys}), nil
}

// NewDiscoveryVerifier checks tokens of issuer with the keys its OIDC
// discovery document names (on a cluster, the Kubernetes API server's
// service account issuer), fetched with client.
func NewDiscoveryVerifier(ctx context.Context, issuer string, client *http.Client) (*Verifier, error) {
	if client != nil {
		ctx = oidc.ClientContext(ctx, client)
	}
	p, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("identity: discover the issuer %s: %w", issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
		return nil, fmt.Errorf("identity: the issuer %s names no jwks_uri", issuer)
	}
	return newVerifier(issuer, oidc.NewRemoteKeySet(ctx, meta.JWKSURI)), nil
}

func newVerifier(issuer string, keys oidc.KeySet) *Verifier {
	return &Verifier{issuer: issuer, keys: keys, verifiers: map[string]*oidc.IDTokenVerifier{}, verified: map[[2]string]verifiedToken{}}
}

// Verify checks that token is valid for audience and returns its subject.
func (v *Verifier) Verify(ctx context.Context, token, audience string) (string, error) {
	if token == "" {
		return "", ErrNoToken
	}
	if len(token) > MaxTokenBytes {
		return "", fmt.Errorf("identity: token of %d bytes, over the %d allowed", len(token), MaxTokenBytes)
	}
	k := [2]string{audience, token}
	now := time.Now()
	v.mu.Lock()
	if t, ok := v.verified[k]; ok && now.Before(t.expiry) {
		v.mu.Unlock()
		return t.subject, nil
	}
	tv, ok := v.verifiers[audience]
	if !ok {
		tv = oidc.NewVerifier(v.issuer, v.keys, &oidc.Config{ClientID: audience, SupportedSigningAlgs: []string{oidc.ES256, oidc.RS256}})
		if len(v.verifiers) < verifiedCacheSize {
			v.verifiers[audience] = tv
		}
	}
	v.mu.Unlock()
	id, err := tv.Verify(ctx, token)
	if err != nil {
		return "", fmt.Errorf("identity: invalid token for audience %s: %w", audience, err)
	}
	if id.Subject == "" {
		return "", fmt.Errorf("identity: the token for audience %s has no subject", audience)
	}
	v.mu.Lock()
	if len(v.verified) >= verifiedCacheSize {
		clear(v.verified)
	}
	v.verified[k] = verifiedToken{subject: id.Subject, expiry: id.Expiry}
	v.mu.Unlock()
	return id.Subject, nil
}

// BearerToken is the token of an Authorization: Bearer header ("" when
// there is none).
func BearerToken(h http.Header) string {
	tok, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return strings.TrimSpace(tok)
}

// SubjectMatches reports whether subject is one of patterns. A pattern
// ending in * matches every subject it is a prefix of (EventPolicy's rule);
// beyond Knative, a segment that is only * matches any one segment of a
// ServiceAccount subject (system:serviceaccount:*:zeroflow-controller-*:
// that name in any namespace), for a receiver whose callers live in every
// namespace that has a Broker.
func SubjectMatches(subject string, patterns []string) bool {
	for _, p := range patterns {
		if matchSubject(subject, p) {
			return true
		}
	}
	return false
}

func matchSubject(subject, pattern string) bool {
	if !strings.Contains(pattern, ":*:") {
		if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
			return strings.HasPrefix(subject, prefix)
		}
		return strings.EqualFold(pattern, subject)
	}
	ps, ss := strings.Split(pattern, ":"), strings.Split(subject, ":")
	if len(ss) < len(ps) {
		return false
	}
	for i, seg := range ps {
		last := i == len(ps)-1
		switch {
		case seg == "*" && !last:
			if ss[i] == "" {
				return false
			}
		case last:
			rest := strings.Join(ss[i:], ":")
			if prefix, ok := strings.CutSuffix(seg, "*"); ok {
				return strings.HasPrefix(rest, prefix)
			}
			return strings.EqualFold(seg, rest)
		case !strings.EqualFold(seg, ss[i]):
			return false
		}
	}
	return false
}

// TokenSource gives the token a sender presents.
type TokenSource func(ctx context.Context) (string, error)

// IssuedToken is a token source backed by an issuer.
func IssuedToken(i *Issuer, subject, audience string) TokenSource {
	return func(context.Context) (string, error) { return i.Issue(subject, audience) }
}

// FileToken reads the token from path (a projected ServiceAccount token,
// which the kubelet rewrites before it expires), at most once a minute.
func FileToken(path string) TokenSource {
	var (
		mu     sync.Mutex
		cached string
		readAt time.Time
	)
	return func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if cached != "" && time.Since(readAt) < time.Minute {
			return cached, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("identity: read the token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("identity: the token file %s is empty", path)
		}
		cached, readAt = tok, time.Now()
		return cached, nil
	}
}

// ServiceAccountPrefix starts the subject of a Kubernetes ServiceAccount's
// tokens.
const ServiceAccountPrefix = "system:serviceaccount:"

// ServiceAccountSubject is the subject of a Kubernetes ServiceAccount's
// tokens.
func ServiceAccountSubject(namespace, name string) string {
	return ServiceAccountPrefix + namespace + ":" + name
}

// ResourceSubject is the identity a Knative object of kind gvk sends with
// (a Trigger's deliveries and replies, a source's events): its OIDC
// ServiceAccount, named as Knative names it.
func ResourceSubject(gvk schema.GroupVersionKind, namespace, name string) string {
	sa := auth.GetOIDCServiceAccountNameForResource(gvk, metav1.ObjectMeta{Namespace: namespace, Name: name})
	return ServiceAccountSubject(namespace, sa)
}
