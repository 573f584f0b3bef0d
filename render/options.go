package render

// DefaultImage is the image of zeroflow's own functions: the zeroflow
// binary, which `ko` builds and pushes when the manifests are applied with
// `ko apply` or resolved with `ko resolve`.
const DefaultImage = "ko://github.com/zeroflow-dev/zeroflow/cmd/zeroflow"

// Options are the choices a cluster makes about rendered objects.
type Options struct {
	// Image runs zeroflow's functions; default DefaultImage.
	Image string
	// Issuer is the issuer of the tokens functions accept (the cluster's
	// ServiceAccount issuer); default DefaultIssuer.
	Issuer string
	// ExecJobs runs container and script steps as Kubernetes Jobs through
	// a Knative JobSink (jobsink.go), so that they may run for hours,
	// instead of on the exec Service, whose requests Knative bounds by its
	// timeoutSeconds (300 s). Each step then pays for a pod's start.
	ExecJobs bool
}

// DefaultIssuer is the ServiceAccount token issuer of a default cluster
// (kubeadm, kind): `kubectl get --raw /.well-known/openid-configuration`
// shows a cluster's.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

func (o Options) issuer() string {
	if o.Issuer == "" {
		return DefaultIssuer
	}
	return o.Issuer
}

func (o Options) image() string {
	if o.Image == "" {
		return DefaultImage
	}
	return o.Image
}
