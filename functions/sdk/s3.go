package sdk

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Artifacts is an ArtifactStore in an S3 bucket (AWS S3, MinIO, …).
type S3Artifacts struct {
	client *minio.Client
	bucket string
	prefix string
}

// NewS3Artifacts opens the store an s3:// URL names:
//
//	s3://BUCKET[/PREFIX]?endpoint=HOST:PORT[&insecure=true][&region=R]
//
// The credentials are AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY from the
// environment. The bucket must exist.
func NewS3Artifacts(rawURL string) (*S3Artifacts, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("artifact store %q: want s3://BUCKET[/PREFIX]?endpoint=HOST:PORT", rawURL)
	}
	q := u.Query()
	return newS3(s3Config{
		endpoint: q.Get("endpoint"), bucket: u.Host, prefix: strings.Trim(u.Path, "/"), region: q.Get("region"),
		secure: q.Get("insecure") != "true", accessKey: os.Getenv("AWS_ACCESS_KEY_ID"), secretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
	})
}

// s3Config is where an S3 store is and who it is opened as.
type s3Config struct {
	endpoint, bucket, prefix, region string
	secure                           bool
	accessKey, secretKey             string
}

// newS3 opens a bucket; AWS's endpoint when none is given.
func newS3(c s3Config) (*S3Artifacts, error) {
	if c.endpoint == "" {
		c.endpoint = "s3.amazonaws.com"
	}
	if c.bucket == "" {
		return nil, fmt.Errorf("s3 store at %s: no bucket", c.endpoint)
	}
	client, err := minio.New(c.endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.accessKey, c.secretKey, ""),
		Secure: c.secure,
		Region: c.region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 store s3://%s at %s: %w", c.bucket, c.endpoint, err)
	}
	return &S3Artifacts{client: client, bucket: c.bucket, prefix: strings.Trim(c.prefix, "/")}, nil
}

// inBucket is the same service and credentials over another bucket, with
// keys taken whole: what an s3://BUCKET/KEY location names.
func (s *S3Artifacts) inBucket(bucket string) *S3Artifacts {
	return &S3Artifacts{client: s.client, bucket: bucket}
}

func (s *S3Artifacts) object(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

// Put stores key; S3 makes a whole object visible at once.
func (s *S3Artifacts) Put(ctx context.Context, key string, r io.Reader) error {
	if _, err := s.client.PutObject(ctx, s.bucket, s.object(key), r, -1, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("put artifact %s in s3://%s: %w", key, s.bucket, err)
	}
	return nil
}

// Get opens key.
func (s *S3Artifacts) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, s.object(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get artifact %s from s3://%s: %w", key, s.bucket, err)
	}
	// GetObject is lazy: a missing key shows on the first read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			err = ErrArtifactNotFound
		}
		return nil, fmt.Errorf("get artifact %s from s3://%s: %w", key, s.bucket, err)
	}
	return obj, nil
}
