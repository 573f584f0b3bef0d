package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/pkg/apis"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/zeroflow-dev/zeroflow/broker"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
	"github.com/zeroflow-dev/zeroflow/internal/identity"
	"github.com/zeroflow-dev/zeroflow/render"
)

// identities is sender identity in the dev stack, as Knative's
// authentication-oidc gives it on a cluster: the stack issues every
// function a token of its ServiceAccount for its broker, the broker issues
// each delivery a token of its Trigger for the subscriber, and every
// function and the broker accept only tokens of this stack's issuer for
// their own audience. The key lives in memory for one run; processes the
// stack starts get its public key in a file.
type identities struct {
	issuer *identity.Issuer
	// dir holds the JWKS and the token files of local processes (0700).
	dir string
	// mu guards audiences and callers: plan runs again whenever the
	// stack's EventSources and Sensors change, while the broker and the
	// functions read them.
	mu sync.RWMutex
	// audiences maps "namespace/name" of each Service the stack runs to
	// the audience its requests must carry.
	audiences map[string]string
	// callers maps "namespace/name" of each Service to the subjects that
	// may call it: the Triggers that deliver to it.
	callers map[string][]string
}

func newIdentities(dataDir string) (*identities, error) {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	iss, err := identity.NewIssuer("https://zeroflow.dev/dev/" + hex.EncodeToString(nonce[:]))
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(dataDir, "identity")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identity dir: %w", err)
	}
	jwks, err := iss.JWKS()
	if err != nil {
		return nil, err
	}
	if err := writePrivate(filepath.Join(dir, "jwks.json"), jwks); err != nil {
		return nil, err
	}
	return &identities{issuer: iss, dir: dir, audiences: map[string]string{}, callers: map[string][]string{}}, nil
}

// brokerIdentity is the broker's share.
func (id *identities) brokerIdentity() *broker.Identity {
	return &broker.Identity{
		Verifier: id.issuer.Verifier(),
		Issuer:   id.issuer,
		Audience: func(namespace string, d duckv1.Destination) string {
			if d.Ref == nil {
				return ""
			}
			id.mu.RLock()
			defer id.mu.RUnlock()
			return id.audiences[serviceKey(namespace, d.Ref)]
		},
	}
}

// controllerKey stands for the controller in audiences and callers: one
// controller serves the Triggers of every namespace, each of which names
// it in its own namespace.
const controllerKey = "/" + render.ControllerService

// serviceKey is the key of the Service a Destination's ref names.
func serviceKey(namespace string, ref *duckv1.KReference) string {
	if ref.Name == render.ControllerService {
		return controllerKey
	}
	ns := ref.Namespace
	if ns == "" {
		ns = namespace
	}
	return ns + "/" + ref.Name
}

// plan gives every Service the stack runs its audience, and records, for
// each Service a Trigger (or a dead-letter sink) delivers to, the
// Trigger's identity as one of its callers. It replaces what an earlier
// plan said: functions started from now on get the new callers.
func (id *identities) plan(triggers []eventingv1.Trigger, brokers []eventingv1.Broker, addrs map[string]*apis.URL) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.audiences, id.callers = map[string]string{}, map[string][]string{}
	// The controller and the dead-letter function keep running while
	// Brokers and Sensors come and go, so their callers are patterns, as
	// on a cluster (render.ControllerIdentity, render.Runtime): the
	// controller's Triggers on any Broker, and any Trigger's dead letters
	// (the one dead-letter function here takes every namespace's; only the
	// broker issues tokens for its audience, for the Triggers whose
	// deliveries failed).
	id.callers[controllerKey] = []string{sdk.ServiceAccountSubject("*", render.ControllerService+"-*")}
	deadLetter := DefaultNamespace + "/" + render.BuiltinService(render.DeadLetterFunction)
	id.callers[deadLetter] = []string{sdk.ServiceAccountSubject("*", "*")}
	for key := range addrs {
		ns, name, _ := strings.Cut(key, "/")
		if name == render.ControllerService {
			id.audiences[controllerKey] = render.ControllerAudience(DefaultNamespace)
			continue
		}
		id.audiences[key] = render.ServiceAudience(ns, name)
	}
	brokerDLS := map[string]*duckv1.Destination{}
	for _, b := range brokers {
		if b.Spec.Delivery != nil && b.Spec.Delivery.DeadLetterSink != nil {
			brokerDLS[b.Namespace+"/"+b.Name] = b.Spec.Delivery.DeadLetterSink
		}
	}
	add := func(t eventingv1.Trigger, d *duckv1.Destination) {
		if d == nil || d.Ref == nil {
			return
		}
		key := serviceKey(t.Namespace, d.Ref)
		id.callers[key] = append(id.callers[key], render.TriggerSubject(t.Namespace, t.Name))
	}
	for _, t := range triggers {
		add(t, &t.Spec.Subscriber)
		switch {
		case t.Spec.Delivery != nil && t.Spec.Delivery.DeadLetterSink != nil:
			add(t, t.Spec.Delivery.DeadLetterSink)
		default:
			add(t, brokerDLS[t.Namespace+"/"+t.Spec.Broker])
		}
	}
}

// serveOptions are the identity options of the function namespace/name,
// which acts as serviceAccount and sends to broker namespace/brokerName.
func (id *identities) serveOptions(namespace, name, serviceAccount, brokerName string) (auth *identity.Authenticator, token identity.TokenSource) {
	key := serviceKey(namespace, &duckv1.KReference{Name: name, Namespace: namespace})
	id.mu.RLock()
	auth = &identity.Authenticator{Verifier: id.issuer.Verifier(), Audience: id.audiences[key], Allowed: slices.Clone(id.callers[key])}
	id.mu.RUnlock()
	if len(auth.Allowed) == 0 {
		// Nothing delivers to it: nobody may call it.
		auth.Allowed = []string{"nobody:" + key}
	}
	return auth, id.token(namespace, serviceAccount, brokerName)
}

// token is the token source of a ServiceAccount for its broker.
func (id *identities) token(namespace, serviceAccount, brokerName string) identity.TokenSource {
	return identity.IssuedToken(id.issuer, sdk.ServiceAccountSubject(namespace, serviceAccount), render.BrokerAudience(namespace, brokerName))
}

// processEnv is the environment that gives a local process its identity,
// as a pod gets it from its projected token and render's variables; the
// token file is rewritten before it expires until ctx ends.
func (id *identities) processEnv(ctx context.Context, namespace, name, serviceAccount, brokerName string) ([]string, error) {
	key := serviceKey(namespace, &duckv1.KReference{Name: name, Namespace: namespace})
	tokenFile := filepath.Join(id.dir, namespace+"."+name+".token")
	src := id.token(namespace, serviceAccount, brokerName)
	write := func() error {
		tok, err := src(ctx)
		if err != nil {
			return err
		}
		return writePrivate(tokenFile, []byte(tok))
	}
	if err := write(); err != nil {
		return nil, err
	}
	go func() {
		t := time.NewTicker(identity.DefaultTTL / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_ = write()
			}
		}
	}()
	id.mu.RLock()
	allowed, audience := slices.Clone(id.callers[key]), id.audiences[key]
	id.mu.RUnlock()
	if len(allowed) == 0 {
		allowed = []string{"nobody:" + key}
	}
	env := []string{
		identity.EnvAudience + "=" + audience,
		identity.EnvIssuer + "=" + id.issuer.URL(),
		identity.EnvJWKSFile + "=" + filepath.Join(id.dir, "jwks.json"),
		identity.EnvTokenFile + "=" + tokenFile,
		identity.EnvAllowedSubjects + "=" + strings.Join(allowed, ","),
	}
	return env, nil
}

// writeProcessEnv writes processEnv to file in the identity dir, one
// KEY=VALUE a line, for a process the stack does not start itself.
func (id *identities) writeProcessEnv(ctx context.Context, file, namespace, name, serviceAccount, brokerName string) error {
	env, err := id.processEnv(ctx, namespace, name, serviceAccount, brokerName)
	if err != nil {
		return err
	}
	return writePrivate(filepath.Join(id.dir, file), []byte(strings.Join(env, "\n")+"\n"))
}

// serviceAccountOf is the ServiceAccount a Knative Service runs as.
func serviceAccountOf(svc *servingv1.Service) string {
	if sa := svc.Spec.Template.Spec.ServiceAccountName; sa != "" {
		return sa
	}
	return "default"
}

func writePrivate(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
