package render

// DefaultImage is the image of zeroflow's own functions: the zeroflow
// binary, which `ko` builds and pushes when the manifests are applied with
// `ko apply` or resolved with `ko resolve`.
const DefaultImage = "ko://github.com/zeroflow-dev/zeroflow/cmd/zeroflow"

// Options are the choices a cluster makes about rendered objects.
type Options struct {
	// Image runs zeroflow's functions; default DefaultImage.
	Image string
}

func (o Options) image() string {
	if o.Image == "" {
		return DefaultImage
	}
	return o.Image
}
