package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/secrets"
)

// stepArtifacts is what a step reads and writes artifacts and offloaded
// values with: the workflow's repository (or the function's own store),
// the secrets that credentials of s3 locations come from, and the limits.
type stepArtifacts struct {
	store Artifacts
	// guarded is set when store is the function's own, shared by every
	// namespace: a key is then checked to be the step's namespace's.
	guarded bool
	secrets secrets.Resolver
	limits  ArtifactLimits
	client  *http.Client
	// repo is the workflow's repository, for the defaults of an s3
	// location (endpoint, credentials) that names only a bucket and key.
	repo *v1alpha1.S3Artifact
}

// newHTTPClient downloads http artifacts: within the timeout, and
// following a redirect only to a URL that is allowed too.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("more than 5 redirects")
			}
			return allowedURL(req.URL)
		},
	}
}

// WithArtifacts returns the input with store as its artifact repository:
// what Step does with its store, for a test that calls a StepFunc itself.
func (in StepInput) WithArtifacts(store Artifacts) StepInput {
	limits := ArtifactLimits{}.withDefaults()
	in.art = &stepArtifacts{store: store, guarded: true, secrets: secrets.Local{}, limits: limits, client: newHTTPClient(limits.HTTPTimeout)}
	return in
}

func (in StepInput) artifacts() *stepArtifacts {
	if in.art == nil {
		return in.WithArtifacts(nil).art
	}
	return in.art
}

func (in StepInput) inputArtifact(name string) (v1alpha1.Artifact, error) {
	for _, a := range in.Template.Inputs.Artifacts {
		if a.Name == name {
			return a, nil
		}
	}
	return v1alpha1.Artifact{}, Errored(fmt.Errorf("template %s declares no input artifact %q", in.Template.Name, name))
}

// missing is the error of an input artifact that is not there: for an
// optional one an error that ErrArtifactNotFound matches (the step may
// go on without it), else the step's Error naming it.
func missing(a v1alpha1.Artifact, err error) error {
	if a.Optional {
		return fmt.Errorf("optional input artifact %s: %w", a.Name, err)
	}
	return Errored(fmt.Errorf("input artifact %s: %w", a.Name, err))
}

// OpenArtifact opens an input artifact that is one file: its content,
// unpacked from tar+gzip when it was stored archived. A directory is
// unpacked with StageArtifact instead. A missing optional artifact is an
// error that ErrArtifactNotFound matches; a missing required one, or one
// that cannot be read, ends the step in Error when returned.
func (in StepInput) OpenArtifact(ctx context.Context, name string) (io.ReadCloser, error) {
	a, err := in.inputArtifact(name)
	if err != nil {
		return nil, err
	}
	rc, isArchive, err := in.artifacts().open(ctx, in.Namespace, a)
	if errors.Is(err, ErrArtifactNotFound) {
		return nil, missing(a, err)
	}
	if err != nil {
		return nil, Errored(fmt.Errorf("input artifact %s: %w", name, err))
	}
	r, err := singleFile(rc, isArchive, in.artifacts().limits)
	if err != nil {
		rc.Close()
		return nil, Errored(fmt.Errorf("input artifact %s: %w", name, err))
	}
	return readCloser{Reader: r, Closer: rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// StageArtifact writes an input artifact at dest, which must not exist: a
// file, or a directory unpacked from its tar+gzip, with the artifact's
// mode. It reports false, and no error, for an optional artifact that is
// missing.
func (in StepInput) StageArtifact(ctx context.Context, name, dest string) (bool, error) {
	a, err := in.inputArtifact(name)
	if err != nil {
		return false, err
	}
	rc, isArchive, err := in.artifacts().open(ctx, in.Namespace, a)
	if errors.Is(err, ErrArtifactNotFound) && a.Optional {
		return false, nil
	}
	if errors.Is(err, ErrArtifactNotFound) {
		return false, missing(a, err)
	}
	if err != nil {
		return false, Errored(fmt.Errorf("input artifact %s: %w", name, err))
	}
	defer rc.Close()
	if err := unpack(rc, dest, isArchive, a.Mode, in.artifacts().limits); err != nil {
		return false, Errored(fmt.Errorf("input artifact %s: stage at %s: %w", name, a.Path, err))
	}
	return true, nil
}

// WriteArtifact stores r as the output artifact name, one file, packed as
// the template's outputs.artifacts entry asks (tar+gzip by default, as in
// Argo; archive none stores it as it is), and returns its key for
// StepOutput.Artifacts.
func (in StepInput) WriteArtifact(ctx context.Context, name string, r io.Reader) (string, error) {
	a, err := in.outputArtifact(name)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "zeroflow-artifact-*")
	if err != nil {
		return "", Errored(fmt.Errorf("output artifact %s: %w", name, err))
	}
	defer os.RemoveAll(dir)
	// Packed from a file, so that the tar header knows the size; the file
	// is named as the artifact's path, as Argo's archive of it would be.
	base := name
	if a.Path != "" {
		base = path.Base(a.Path)
	}
	file := filepath.Join(dir, base)
	if err := writeFile(file, newCapped(r, in.artifacts().limits.MaxBytes), 0o644); err != nil {
		return "", Errored(fmt.Errorf("output artifact %s: %w", name, err))
	}
	return in.SaveArtifact(ctx, name, file)
}

// SaveArtifact stores the file or directory at src as the output artifact
// name and returns its key: in the template's own s3 location when it has
// one (as s3://BUCKET/KEY), else in the workflow's repository at
// events.ArtifactKey for this attempt, so that a retry never overwrites
// what an earlier attempt wrote.
func (in StepInput) SaveArtifact(ctx context.Context, name, src string) (string, error) {
	a, err := in.outputArtifact(name)
	if err != nil {
		return "", err
	}
	art := in.artifacts()
	store, key, location, err := art.target(ctx, in.StepRun, a)
	if err != nil {
		return "", Errored(fmt.Errorf("output artifact %s: %w", name, err))
	}
	pr, pw := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		err := pack(pw, src, a, art.limits)
		pw.CloseWithError(err)
		packed <- err
	}()
	putErr := store.Put(ctx, key, pr)
	pr.CloseWithError(errors.New("the store stopped reading"))
	if err := <-packed; err != nil {
		return "", fmt.Errorf("output artifact %s: %w", name, err)
	}
	if putErr != nil {
		return "", Errored(fmt.Errorf("output artifact %s: %w", name, putErr))
	}
	return location, nil
}

func (in StepInput) outputArtifact(name string) (v1alpha1.Artifact, error) {
	for _, a := range in.Template.Outputs.Artifacts {
		if a.Name == name {
			return a, nil
		}
	}
	return v1alpha1.Artifact{}, Errored(fmt.Errorf("template %s declares no output artifact %q: add it to outputs.artifacts", in.Template.Name, name))
}

// target is where an output artifact goes: the store, the key in it, and
// the location reported (the key, or s3://BUCKET/KEY).
func (s *stepArtifacts) target(ctx context.Context, run events.StepRun, a v1alpha1.Artifact) (ArtifactStore, string, string, error) {
	if a.S3 != nil && a.S3.Key != "" {
		store, guarded, err := s.s3(ctx, run.Namespace, *a.S3)
		if err != nil {
			return nil, "", "", err
		}
		if guarded {
			if err := checkKey(run.Namespace, a.S3.Key); err != nil {
				return nil, "", "", err
			}
		}
		return store, a.S3.Key, "s3://" + store.bucket + "/" + a.S3.Key, nil
	}
	if s.store == nil {
		return nil, "", "", fmt.Errorf("no artifact store (set $%s or the workflow's artifactRepositoryRef)", EnvArtifacts)
	}
	key := events.ArtifactKey(run.Namespace, run.Workflow, run.NodeID, run.Attempt, a.Name, archived(a))
	return s.store, key, key, nil
}

// open opens where an input artifact is, and says whether it is stored as
// tar+gzip. One that has no location is ErrArtifactNotFound (the engine
// gives an absent optional artifact none).
func (s *stepArtifacts) open(ctx context.Context, namespace string, a v1alpha1.Artifact) (io.ReadCloser, bool, error) {
	switch {
	case a.Raw != nil:
		return io.NopCloser(strings.NewReader(a.Raw.Data)), false, nil
	case a.HTTP != nil:
		return s.download(ctx, a)
	case a.S3 != nil && a.S3.Key != "":
		store, guarded, err := s.s3(ctx, namespace, *a.S3)
		if err != nil {
			return nil, false, err
		}
		return s.get(ctx, store, guarded, namespace, a.S3.Key, a)
	case strings.HasPrefix(a.Key, "s3://"):
		bucket, key, ok := strings.Cut(strings.TrimPrefix(a.Key, "s3://"), "/")
		if !ok || bucket == "" || key == "" {
			return nil, false, fmt.Errorf("location %q: want s3://BUCKET/KEY", a.Key)
		}
		store, guarded, err := s.s3(ctx, namespace, v1alpha1.S3Artifact{Bucket: bucket})
		if err != nil {
			return nil, false, err
		}
		return s.get(ctx, store, guarded, namespace, key, a)
	case a.Key != "":
		if s.store == nil {
			return nil, false, fmt.Errorf("key %s: no artifact store (set $%s or the workflow's artifactRepositoryRef)", a.Key, EnvArtifacts)
		}
		return s.get(ctx, s.store, s.guarded, namespace, a.Key, a)
	default:
		return nil, false, fmt.Errorf("no location: %w", ErrArtifactNotFound)
	}
}

func (s *stepArtifacts) get(ctx context.Context, store ArtifactReader, guarded bool, namespace, key string, a v1alpha1.Artifact) (io.ReadCloser, bool, error) {
	if guarded {
		if err := checkKey(namespace, key); err != nil {
			return nil, false, err
		}
	} else if strings.Contains(key, "..") {
		return nil, false, fmt.Errorf("key %q has a \"..\" in it", key)
	}
	rc, err := store.Get(ctx, key)
	if err != nil {
		return nil, false, err
	}
	return rc, storedArchived(key, a), nil
}

// storedArchived tells a tar+gzip from a file by the name it is stored
// under (.tgz, .tar.gz, as zeroflow and Argo name their archives), unless
// the input says archive none.
func storedArchived(name string, a v1alpha1.Artifact) bool {
	if a.Archive != nil && a.Archive.None != nil {
		return false
	}
	return strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar.gz")
}

// namespacedPrefix reports zeroflow's own key families, whose second
// segment is the namespace the object belongs to.
func namespacedPrefix(first string) bool {
	switch first {
	case "artifacts", "offload", "logs", "runs":
		return true
	}
	return false
}

// checkKey refuses a key of a store shared between namespaces that is not
// the step's namespace's, so that a workflow cannot read another
// namespace's artifacts, values or logs by naming their keys.
func checkKey(namespace, key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "..") {
		return fmt.Errorf("key %q is not a key of the artifact store", key)
	}
	first, rest, _ := strings.Cut(key, "/")
	if ns, _, _ := strings.Cut(rest, "/"); namespacedPrefix(first) && ns != namespace {
		return fmt.Errorf("key %q is not namespace %s's", key, namespace)
	}
	return nil
}

// s3 opens the bucket of an s3 location. Its endpoint, region and
// credentials default to the workflow's repository's, then to the
// function's own store's when it is in S3. It reports guarded when the
// credentials are the function's own, so that keys are checked.
func (s *stepArtifacts) s3(ctx context.Context, namespace string, loc v1alpha1.S3Artifact) (*S3Artifacts, bool, error) {
	if s.repo != nil {
		def := *s.repo
		if loc.Endpoint == "" {
			loc.Endpoint = def.Endpoint
			if loc.Insecure == nil {
				loc.Insecure = def.Insecure
			}
		}
		if loc.Region == "" {
			loc.Region = def.Region
		}
		if loc.Bucket == "" {
			loc.Bucket = def.Bucket
		}
		if loc.AccessKeySecret == nil && loc.SecretKeySecret == nil {
			loc.AccessKeySecret, loc.SecretKeySecret = def.AccessKeySecret, def.SecretKeySecret
		}
	}
	own, _ := s.store.(*S3Artifacts)
	if loc.AccessKeySecret == nil && loc.SecretKeySecret == nil && loc.Endpoint == "" && own != nil {
		bucket := loc.Bucket
		if bucket == "" {
			bucket = own.bucket
		}
		return own.inBucket(bucket), true, nil
	}
	c := s3Config{endpoint: loc.Endpoint, bucket: loc.Bucket, region: loc.Region, secure: loc.Insecure == nil || !*loc.Insecure}
	guarded := true
	if loc.AccessKeySecret != nil || loc.SecretKeySecret != nil {
		if loc.AccessKeySecret == nil || loc.SecretKeySecret == nil {
			return nil, false, errors.New("s3: accessKeySecret and secretKeySecret go together")
		}
		var err error
		if c.accessKey, err = s.secrets.Get(ctx, namespace, *loc.AccessKeySecret); err != nil {
			return nil, false, fmt.Errorf("s3 accessKeySecret: %w", err)
		}
		if c.secretKey, err = s.secrets.Get(ctx, namespace, *loc.SecretKeySecret); err != nil {
			return nil, false, fmt.Errorf("s3 secretKeySecret: %w", err)
		}
		guarded = false
	} else {
		c.accessKey, c.secretKey = os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	}
	store, err := newS3(c)
	return store, guarded, err
}

// download opens an http artifact: https, or http to a loopback address
// (a service on the same host, as in `zeroflow dev`), within the timeout;
// the size is bounded where it is read.
func (s *stepArtifacts) download(ctx context.Context, a v1alpha1.Artifact) (io.ReadCloser, bool, error) {
	u, err := url.Parse(a.HTTP.URL)
	if err != nil {
		return nil, false, fmt.Errorf("url %q: %w", a.HTTP.URL, err)
	}
	if err := allowedURL(u); err != nil {
		return nil, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("url %q: %w", a.HTTP.URL, err)
	}
	for _, h := range a.HTTP.Headers {
		req.Header.Add(h.Name, h.Value)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		resp.Body.Close()
		return nil, false, fmt.Errorf("GET %s: status 404: %w", u.Redacted(), ErrArtifactNotFound)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		resp.Body.Close()
		return nil, false, fmt.Errorf("GET %s: status %d", u.Redacted(), resp.StatusCode)
	case resp.ContentLength > s.limits.MaxBytes:
		resp.Body.Close()
		return nil, false, fmt.Errorf("GET %s: %w of %d bytes (%d)", u.Redacted(), errTooLarge, s.limits.MaxBytes, resp.ContentLength)
	}
	return resp.Body, storedArchived(u.Path, a), nil
}

// allowedURL admits https, and plain http only to a loopback host: an
// artifact's content over plain http to elsewhere could be read or
// changed on the way.
func allowedURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("url %s: plain http is allowed only to a loopback address; use https", u.Redacted())
	default:
		return fmt.Errorf("url %s: want https (or http to a loopback address)", u.Redacted())
	}
}
