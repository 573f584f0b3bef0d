// Package controller runs workflows: it takes workflow.submit, step.result
// and tick CloudEvents (and Workflows created through the API), advances
// each workflow with the pure engine, persists the status with optimistic
// concurrency, and only then dispatches step.run events and, at the end,
// workflow.finished.
//
// The state lives in the Workflow object, so any number of controller
// instances can take events at once; a conflict is a re-read and a replay
// of the same input. Run's watch and resync run in one instance, elected
// on a Lease (Config.LeaderElection).
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/util/workqueue"

	"github.com/zeroflow-dev/zeroflow/controller/engine"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Config configures a Controller.
type Config struct {
	// Client reads and writes Workflows and WorkflowTemplates.
	Client *Client
	// Send delivers step.run and workflow.finished events to the broker.
	Send   func(ctx context.Context, ev event.Event) error
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// HeartbeatInterval is how often a running step's runtime sends a
	// heartbeat (default DefaultHeartbeatInterval); it goes to the
	// function in each step.run.
	HeartbeatInterval time.Duration
	// LostAfter is how long a step that heartbeated may go silent before
	// its attempt is failed as lost (phase Error) and retried under its
	// retryStrategy (default DefaultLostAfter). A step's age never
	// matters: it runs until its template's timeout.
	LostAfter time.Duration
	// StartTimeout is how long a dispatched attempt may go without any
	// heartbeat or result before it is lost (default
	// DefaultStartTimeout): it covers the broker's queue and cold starts.
	StartTimeout time.Duration
	// ResyncPeriod is how often Run looks at every unfinished workflow
	// (default 30s).
	ResyncPeriod time.Duration
	// Workers is how many workflows Run advances at once (default 4).
	Workers int
	// DispatchConcurrency bounds the step.run sends of one advance in
	// flight at once (default 32).
	DispatchConcurrency int
	// Namespace limits the watch and the resync to one namespace (a
	// namespaced install, whose Role covers only it); "" watches all.
	Namespace string
	// Metrics, when set, receives the controller's Prometheus metrics.
	Metrics prometheus.Registerer
	// TokenKey signs the step token of each dispatch (see
	// events.ExtStepToken). Every instance, and the same instance after a
	// restart, must have the same key, or it refuses the results of steps
	// another dispatched (until they are dispatched again). Empty: a
	// random key for this process only.
	TokenKey []byte
	// CrossNamespace lists the workflow.submit senders a cluster admin
	// allows to start workflows outside their own namespace. By default a
	// submit whose verified sender is in namespace A may create a
	// workflow in A only, whatever RBAC would let the controller do.
	CrossNamespace []NamespacePair
	// Schedules, when set, keeps the schedules of CronWorkflows in step
	// with the API: Run watches CronWorkflows and applies each one
	// created, changed or deleted (ClusterSchedules on a cluster). Nil:
	// the controller only takes the firings; something else makes the
	// PingSources (zeroflow render, for the CronWorkflows in files).
	Schedules Schedules
	// Sources, when set, keeps what runs for EventSources and Sensors in
	// step with the API: Run watches them and applies each one created,
	// changed or deleted (ClusterSources on a cluster). Nil: something
	// else makes their objects (zeroflow render and GitOps, or zeroflow
	// dev).
	Sources Sources
	// Artifacts is the artifact store that a submit's arguments above the
	// offload threshold go to (the stack's, $ZEROFLOW_ARTIFACTS). Nil:
	// arguments stay inline, and a Workflow too large for the API is
	// refused with 413.
	Artifacts sdk.Artifacts
	// OffloadThreshold is the largest argument kept inline; default
	// $ZEROFLOW_OFFLOAD_THRESHOLD, else sdk.DefaultOffloadThreshold.
	OffloadThreshold int64
	// MaxObjectBytes bounds a stored Workflow's JSON (default
	// DefaultMaxObjectBytes): a status write above it ends the run in
	// Error instead of a write etcd would refuse.
	MaxObjectBytes int
	// LeaderElection, when set, elects one instance among those sharing
	// its Lease to run the watches, the resync and the schedules (see
	// Run); nil: this instance runs them, as the only one.
	LeaderElection *LeaderElection
	// ConfigMaps reads the ConfigMaps that name artifact repositories;
	// default Client.GetConfigMap. (The dev stack's API serves no core
	// kinds: there, every lookup is not found and no ref resolves.)
	ConfigMaps func(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error)
}

// Liveness defaults (Config).
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultLostAfter         = time.Minute
	DefaultStartTimeout      = 5 * time.Minute
)

// liveness is the engine's view of Config's liveness times.
func (c *Controller) liveness() engine.Liveness {
	return engine.Liveness{LostAfter: c.cfg.LostAfter, StartTimeout: c.cfg.StartTimeout, HeartbeatEvery: c.cfg.HeartbeatInterval}
}

// NamespacePair allows senders in From to submit workflows to To; "*" in
// either is any namespace.
type NamespacePair struct{ From, To string }

// ParseNamespacePairs reads the values of --allow-cross-namespace: "*"
// (any sender, any namespace) or FROM=TO, either side "*".
func ParseNamespacePairs(values []string) ([]NamespacePair, error) {
	var out []NamespacePair
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			if item == "*" {
				out = append(out, NamespacePair{From: "*", To: "*"})
				continue
			}
			from, to, ok := strings.Cut(item, "=")
			if !ok || from == "" || to == "" {
				return nil, fmt.Errorf("cross-namespace pair %q: want FROM=TO (a namespace or *), or * for any", item)
			}
			out = append(out, NamespacePair{From: from, To: to})
		}
	}
	return out, nil
}

// allows reports whether the pair lets a sender in from submit to to.
func (p NamespacePair) allows(from, to string) bool {
	return (p.From == "*" || p.From == from) && (p.To == "*" || p.To == to)
}

// Controller advances workflows.
type Controller struct {
	cfg    Config
	engine *engine.Engine
	locks  *keyLocks
	cache  *runCache
	queue  workqueue.TypedDelayingInterface[key]
	// metrics counts what the controller did, for the log and benchmarks.
	metrics *metrics
	// threshold is the offload threshold in effect.
	threshold int64
	// repos caches resolved artifact repositories.
	repos *repoCache
	// leader is whether this instance runs Run's singular work.
	leader *leaderState
}

// key names a workflow.
type key struct{ namespace, name string }

func (k key) String() string { return k.namespace + "/" + k.name }

// New returns a Controller.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil || cfg.Send == nil {
		return nil, fmt.Errorf("controller: Client and Send are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.LostAfter <= 0 {
		cfg.LostAfter = DefaultLostAfter
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = DefaultStartTimeout
	}
	if cfg.LostAfter < 2*cfg.HeartbeatInterval {
		return nil, fmt.Errorf("controller: the lost-after time %s must be at least twice the heartbeat interval %s, or one late heartbeat loses a running step", cfg.LostAfter, cfg.HeartbeatInterval)
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 30 * time.Second
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.DispatchConcurrency <= 0 {
		cfg.DispatchConcurrency = 32
	}
	if cfg.ConfigMaps == nil {
		cfg.ConfigMaps = cfg.Client.GetConfigMap
	}
	if cfg.MaxObjectBytes <= 0 {
		cfg.MaxObjectBytes = DefaultMaxObjectBytes
	}
	if cfg.OffloadThreshold <= 0 {
		limits, err := sdk.OffloadLimitsFromEnv()
		if err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		cfg.OffloadThreshold = limits.Threshold
	}
	if len(cfg.TokenKey) == 0 {
		key, err := NewTokenKey()
		if err != nil {
			return nil, fmt.Errorf("controller: %w", err)
		}
		cfg.TokenKey = key
		cfg.Logger.Info("no step-token key configured: using a random one, so results of steps dispatched before a restart or by another instance are refused until dispatched again (set one with --token-key-file)")
	}
	return &Controller{
		cfg:       cfg,
		engine:    engine.New(),
		locks:     newKeyLocks(),
		cache:     newRunCache(10000),
		queue:     workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[key]{Name: "workflows"}),
		metrics:   newMetrics(cfg.Metrics),
		threshold: cfg.OffloadThreshold,
		repos:     newRepoCache(10 * time.Second),
		leader:    newLeaderState(cfg.Metrics),
	}, nil
}
