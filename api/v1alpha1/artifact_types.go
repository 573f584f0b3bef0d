package v1alpha1

// Artifact is a named file or directory that a step takes or produces, with
// Argo's fields. Where it is read from or written to is one of its
// locations (s3, raw, http), else the workflow's artifact repository.
type Artifact struct {
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9_][-a-zA-Z0-9_.]*$`
	Name string `json:"name"`
	// Path is the file or directory inside the step (exec templates); a
	// user function reads and writes it through the SDK.
	// +optional
	Path string `json:"path,omitempty"`
	// Mode is the file mode an input is staged with.
	// +optional
	Mode *int32 `json:"mode,omitempty"`
	// From is a reference to another node's artifact, e.g.
	// "{{tasks.A.outputs.artifacts.logs}}".
	// +optional
	From string `json:"from,omitempty"`
	// FromExpression is an expression whose value is such a reference, e.g.
	// "tasks.A.status == 'Succeeded' ? tasks.A.outputs.artifacts.x : tasks.B.outputs.artifacts.x".
	// +optional
	FromExpression string `json:"fromExpression,omitempty"`
	// Key is where the artifact is in the workflow's artifact repository.
	// zeroflow fills it when it resolves an input; set by hand it names an
	// object of the repository.
	// +optional
	Key string `json:"key,omitempty"`
	// GlobalName also publishes an output as
	// {{workflow.outputs.artifacts.<globalName>}}.
	// +optional
	GlobalName string `json:"globalName,omitempty"`
	// Optional artifacts may be missing without failing the step.
	// +optional
	Optional bool `json:"optional,omitempty"`
	// Archive is how a file or directory is packed when stored: tar with
	// gzip by default, as in Argo, or none.
	// +optional
	Archive *ArchiveStrategy `json:"archive,omitempty"`
	// S3 is an object in an S3 bucket (MinIO included).
	// +optional
	S3 *S3Artifact `json:"s3,omitempty"`
	// Raw is the artifact's content, inline.
	// +optional
	Raw *RawArtifact `json:"raw,omitempty"`
	// HTTP is a URL the input is downloaded from.
	// +optional
	HTTP *HTTPArtifact `json:"http,omitempty"`
}

// ArchiveStrategy says how an artifact is packed. At most one is set.
type ArchiveStrategy struct {
	// +optional
	Tar *TarStrategy `json:"tar,omitempty"`
	// +optional
	None *NoneStrategy `json:"none,omitempty"`
}

// TarStrategy packs into a tar file compressed with gzip.
type TarStrategy struct {
	// CompressionLevel is gzip's level (0 none, 1 fastest, 9 best); default 6.
	// +optional
	// +kubebuilder:validation:Minimum=-1
	// +kubebuilder:validation:Maximum=9
	CompressionLevel *int32 `json:"compressionLevel,omitempty"`
}

// NoneStrategy stores a single file as it is.
type NoneStrategy struct{}

// S3Artifact is an object in an S3 bucket.
type S3Artifact struct {
	// Endpoint is host:port of the S3 service.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// +optional
	Bucket string `json:"bucket,omitempty"`
	// +optional
	Region string `json:"region,omitempty"`
	// Insecure uses http instead of https.
	// +optional
	Insecure *bool `json:"insecure,omitempty"`
	// AccessKeySecret and SecretKeySecret are the credentials; without them
	// the function's own (its environment) are used.
	// +optional
	AccessKeySecret *SecretKeySelector `json:"accessKeySecret,omitempty"`
	// +optional
	SecretKeySecret *SecretKeySelector `json:"secretKeySecret,omitempty"`
	// Key is the object's key in the bucket.
	// +optional
	Key string `json:"key,omitempty"`
}

// RawArtifact is content given inline.
type RawArtifact struct {
	Data string `json:"data"`
}

// HTTPArtifact is a file downloaded over HTTP(S).
type HTTPArtifact struct {
	// +kubebuilder:validation:MinLength=1
	URL string `json:"url"`
	// +optional
	Headers []HTTPArtifactHeader `json:"headers,omitempty"`
}

// HTTPArtifactHeader is a request header of an HTTP artifact.
type HTTPArtifactHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ArtifactRepositoryRef names the artifact repository a workflow uses: a key
// of a ConfigMap in the workflow's namespace, as in Argo (ConfigMap
// "artifact-repositories", the key its annotation
// workflows.argoproj.io/default-artifact-repository names when Key is "").
type ArtifactRepositoryRef struct {
	// +optional
	ConfigMap string `json:"configMap,omitempty"`
	// +optional
	Key string `json:"key,omitempty"`
}

// ArtifactRepository is what a key of the artifact-repositories ConfigMap
// holds (Argo's shape; only s3 is supported).
type ArtifactRepository struct {
	// +optional
	S3 *S3ArtifactRepository `json:"s3,omitempty"`
}

// S3ArtifactRepository is an S3 bucket that artifacts are stored in.
type S3ArtifactRepository struct {
	S3Artifact `json:",inline"`
	// KeyFormat is accepted for Argo compatibility; zeroflow's keys are
	// always workflow/node/attempt/name (see docs/workflows.md).
	// +optional
	KeyFormat string `json:"keyFormat,omitempty"`
}
