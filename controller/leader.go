package controller

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Leader election defaults (LeaderElection), Kubernetes' own for its
// controllers.
const (
	DefaultLeaseName     = "zeroflow-controller"
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LeaderElection makes the instances of a controller elect one leader on a
// coordination.k8s.io/v1 Lease: only the leader runs the watches, the
// resync and the schedules (Run's singular work); every instance handles
// events and the wake-ups its own advances ask for.
type LeaderElection struct {
	// Leases reaches the API's Leases (NewLeases).
	Leases coordinationv1client.LeasesGetter
	// Namespace and Name name the Lease; Name defaults to
	// DefaultLeaseName. Namespace is required.
	Namespace, Name string
	// Identity names this instance in the Lease; default the host name
	// (the pod's) and a random suffix, so that a restarted pod is a new
	// candidate. Two instances must never share one: each would take the
	// other's Lease as its own.
	Identity string
	// LeaseDuration is how long the others wait after the leader's last
	// renewal before taking over (default DefaultLeaseDuration);
	// RenewDeadline how long the leader keeps trying to renew before it
	// steps down (default DefaultRenewDeadline, less than LeaseDuration,
	// so it stops before anyone else may start); RetryPeriod how often
	// each tries (default DefaultRetryPeriod).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// NewLeases is a Leases client for cfg.
func NewLeases(cfg *rest.Config) (coordinationv1client.LeasesGetter, error) {
	cfg = rest.CopyConfig(cfg)
	// JSON, not the typed clients' protobuf: zeroflow's in-process API
	// serves Leases as a CRD, which takes no protobuf (a cluster takes
	// both).
	cfg.ContentType = runtime.ContentTypeJSON
	cfg.AcceptContentTypes = runtime.ContentTypeJSON
	c, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("leases client: %w", err)
	}
	return c, nil
}

// withDefaults fills in what is unset and checks the durations.
func (le LeaderElection) withDefaults() (LeaderElection, error) {
	if le.Leases == nil || le.Namespace == "" {
		return le, fmt.Errorf("leader election: Leases and Namespace are required")
	}
	if le.Name == "" {
		le.Name = DefaultLeaseName
	}
	if le.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return le, fmt.Errorf("leader election: identity: %w", err)
		}
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		le.Identity = host + "_" + hex.EncodeToString(b)
	}
	if le.LeaseDuration <= 0 {
		le.LeaseDuration = DefaultLeaseDuration
	}
	if le.RenewDeadline <= 0 {
		le.RenewDeadline = DefaultRenewDeadline
	}
	if le.RetryPeriod <= 0 {
		le.RetryPeriod = DefaultRetryPeriod
	}
	if le.LeaseDuration <= le.RenewDeadline || float64(le.RenewDeadline) <= leaderelection.JitterFactor*float64(le.RetryPeriod) {
		return le, fmt.Errorf("leader election: want lease duration %s > renew deadline %s > %.1f × retry period %s", le.LeaseDuration, le.RenewDeadline, leaderelection.JitterFactor, le.RetryPeriod)
	}
	return le, nil
}

// leaderState is whether this instance leads, for IsLeader and the gauge.
type leaderState struct {
	is    atomic.Bool
	gauge prometheus.Gauge
}

func newLeaderState(reg prometheus.Registerer) *leaderState {
	s := &leaderState{gauge: prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "zeroflow_controller_leader",
		Help: "1 while this controller instance is the leader (runs the watch, the resync and the schedules), else 0.",
	})}
	if reg != nil {
		reg.MustRegister(s.gauge)
	}
	return s
}

func (s *leaderState) set(v bool) {
	s.is.Store(v)
	if v {
		s.gauge.Set(1)
	} else {
		s.gauge.Set(0)
	}
}

// IsLeader reports whether this instance runs the singular work now.
func (c *Controller) IsLeader() bool { return c.leader.is.Load() }

// elect campaigns for the Lease until ctx ends, and while this instance
// holds it runs lead. Losing the Lease (a renewal failing for
// RenewDeadline) ends lead at once; the instance then campaigns again, as
// a candidate like any other: its event handling never stopped. An error
// of lead itself (not the Lease's loss) is returned, after the Lease is
// released.
func (c *Controller) elect(ctx context.Context, cfg LeaderElection) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: cfg.Namespace, Name: cfg.Name},
		Client:     cfg.Leases,
		LockConfig: resourcelock.ResourceLockConfig{Identity: cfg.Identity},
	}
	log := c.cfg.Logger.With("lease", cfg.Namespace+"/"+cfg.Name, "identity", cfg.Identity)
	for ctx.Err() == nil {
		termCtx, cancel := context.WithCancel(ctx)
		started := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          lock,
			Name:          cfg.Name,
			LeaseDuration: cfg.LeaseDuration,
			RenewDeadline: cfg.RenewDeadline,
			RetryPeriod:   cfg.RetryPeriod,
			// A stopping leader hands over at once instead of making the
			// others wait out LeaseDuration.
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				// Called in a goroutine of the elector's; lead runs here,
				// in elect, so that elect returns only once it stopped.
				OnStartedLeading: func(lctx context.Context) { started <- lctx },
				OnStoppedLeading: func() {},
				OnNewLeader: func(id string) {
					if id != cfg.Identity {
						log.InfoContext(ctx, "controller leader", "leader", id)
					}
				},
			},
		})
		if err != nil {
			cancel()
			return fmt.Errorf("leader election on lease %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			elector.Run(termCtx)
		}()
		var leadErr error
		select {
		case lctx := <-started:
			log.InfoContext(ctx, "leading: running the watch, the resync and the schedules")
			c.leader.set(true)
			leadErr = c.lead(lctx)
			c.leader.set(false)
			if lctx.Err() != nil {
				// The Lease was lost or ctx ended: lead stopped because
				// it was told to, not because it failed.
				leadErr = nil
			}
			// Release the Lease (if lead ended on its own) and wait for
			// the elector, so that no term overlaps the next.
			cancel()
			<-done
			if ctx.Err() == nil {
				log.WarnContext(ctx, "stopped leading: the watch, the resync and the schedules stopped; campaigning again", "error", leadErr)
			}
		case <-done:
			cancel()
		}
		if leadErr != nil && ctx.Err() == nil {
			return leadErr
		}
	}
	return nil
}
