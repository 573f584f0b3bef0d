package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
)

// EventOffload is how a function keeps large event data out of the events
// it sends (DESIGN §11): data above Limits.Threshold goes to Store with
// PutValue and the event carries the zfdataref, zfdatasize and
// zfdatadigest extensions instead, so that no hop wraps a large body into
// an event the broker refuses (issue 12). A receiving function resolves
// them before its handler runs.
type EventOffload struct {
	// Store is the artifact store; nil means none (then data above the
	// threshold cannot be sent).
	Store Artifacts
	// Limits are the threshold and the largest value read back.
	Limits OffloadLimits
	// err is a configuration error from the environment, reported when a
	// value needs the store (so a function that never sends large data
	// starts with a broken $ZEROFLOW_ARTIFACTS).
	err error
}

// EventOffloadFromEnv is the offload the environment configures:
// $ZEROFLOW_ARTIFACTS, $ZEROFLOW_OFFLOAD_THRESHOLD and
// $ZEROFLOW_MAX_OFFLOADED_VALUE. A bad value is an error.
func EventOffloadFromEnv() (EventOffload, error) {
	limits, err := OffloadLimitsFromEnv()
	if err != nil {
		return EventOffload{Limits: limits}, err
	}
	store, err := OpenArtifacts(os.Getenv(EnvArtifacts))
	if err != nil {
		return EventOffload{Limits: limits}, fmt.Errorf("$%s: %w", EnvArtifacts, err)
	}
	return EventOffload{Store: store, Limits: limits}, nil
}

// eventOffloadFromEnvLazy is EventOffloadFromEnv for constructors that
// cannot fail: the error is kept and returned by the first offload that
// needs the store.
func eventOffloadFromEnvLazy() EventOffload {
	o, err := EventOffloadFromEnv()
	o.err = err
	return o
}

func (o EventOffload) withDefaults() EventOffload {
	if o.Limits.Threshold <= 0 {
		o.Limits.Threshold = DefaultOffloadThreshold
	}
	if o.Limits.MaxValue <= 0 {
		o.Limits.MaxValue = DefaultMaxOffloadedValue
	}
	return o
}

// ErrNoOffloadStore is what offloading fails with when data is above the
// threshold and no artifact store is configured.
var ErrNoOffloadStore = errors.New("no artifact store to offload it to: set $" + EnvArtifacts + " (a directory or an s3:// URL)")

// ErrTooLargeToOffload is what offloading fails with for data larger
// than the largest value a receiver loads.
var ErrTooLargeToOffload = errors.New("larger than the largest offloaded value a receiver loads")

// OffloadEvent moves ev's data to the store when it is above the
// threshold, as namespace's value, and marks ev with the zfdata*
// extensions. Small data is left as it is. An event that already carries
// a reference is left as it is (it was offloaded before).
func OffloadEvent(ctx context.Context, o EventOffload, namespace string, ev *event.Event) error {
	_, err := offloadEvent(ctx, o, namespace, ev, nil)
	return err
}

// offloadEvent is OffloadEvent; reuse, when its digest is that of the
// data, is a reference already stored (the data of the event being
// answered), which is not stored again.
func offloadEvent(ctx context.Context, o EventOffload, namespace string, ev *event.Event, reuse *v1alpha1.ValueRef) (bool, error) {
	o = o.withDefaults()
	data := ev.Data()
	if int64(len(data)) <= o.Limits.Threshold || events.Extension(*ev, events.ExtDataRef) != "" {
		return false, nil
	}
	if int64(len(data)) > o.Limits.MaxValue {
		// No receiver would load it: refused here, where the sender
		// still hears of it, not in a dead-letter store.
		return false, fmt.Errorf("event %s's data of %d bytes: %w (%d bytes, $%s)", ev.ID(), len(data), ErrTooLargeToOffload, o.Limits.MaxValue, EnvMaxOffloadedValue)
	}
	if o.err != nil {
		return false, fmt.Errorf("offload the %d bytes of event %s's data: %w", len(data), ev.ID(), o.err)
	}
	if o.Store == nil {
		return false, fmt.Errorf("event %s's data of %d bytes is above the offload threshold of %d bytes ($%s): %w",
			ev.ID(), len(data), o.Limits.Threshold, EnvOffloadThreshold, ErrNoOffloadStore)
	}
	var ref v1alpha1.ValueRef
	if reuse != nil && reuse.Size == int64(len(data)) && reuse.Key == OffloadKey(namespace, reuse.Digest) && reuse.Digest == Digest(data) {
		ref = *reuse
	} else {
		var err error
		if ref, err = PutValue(ctx, o.Store, namespace, data); err != nil {
			return false, fmt.Errorf("event %s: %w", ev.ID(), err)
		}
	}
	ev.SetExtension(events.ExtDataRef, ref.Key)
	ev.SetExtension(events.ExtDataSize, strconv.FormatInt(ref.Size, 10))
	ev.SetExtension(events.ExtDataDigest, ref.Digest)
	// The content type stays: it describes the data the receiver gets back.
	ev.DataEncoded = nil
	ev.DataBase64 = false
	return true, nil
}

// ResolveEvent loads the data an event carries by reference, checks it
// (namespace's key for the digest, at most Limits.MaxValue bytes, the
// digest of what was read) and puts it back into ev without the zfdata*
// extensions, so that ev is the event as it was sent. It returns the
// reference it resolved (nil when ev carried none). A reference that is
// wrong is an error with status 400 (retrying cannot fix it); a store that
// cannot be reached is 503.
func ResolveEvent(ctx context.Context, o EventOffload, namespace string, ev *event.Event) (*v1alpha1.ValueRef, error) {
	o = o.withDefaults()
	key := events.Extension(*ev, events.ExtDataRef)
	_, sized := ev.Extensions()[events.ExtDataSize]
	_, digested := ev.Extensions()[events.ExtDataDigest]
	if key == "" {
		if sized || digested {
			return nil, Status(http.StatusBadRequest, fmt.Errorf("event %s has %s or %s without %s", ev.ID(), events.ExtDataSize, events.ExtDataDigest, events.ExtDataRef))
		}
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return Status(http.StatusBadRequest, fmt.Errorf("event %s: offloaded data %s: %s", ev.ID(), key, fmt.Sprintf(format, args...)))
	}
	if len(ev.Data()) > 0 {
		return nil, bad("the event also has data")
	}
	size, err := strconv.ParseInt(events.Extension(*ev, events.ExtDataSize), 10, 64)
	if err != nil {
		return nil, bad("%s %q is not a size", events.ExtDataSize, events.Extension(*ev, events.ExtDataSize))
	}
	ref := v1alpha1.ValueRef{Key: key, Size: size, Digest: events.Extension(*ev, events.ExtDataDigest)}
	if namespace == "" {
		return nil, bad("the namespace the event was delivered in is not known (no caller identity, no Kn-Namespace header, no Options.Namespace)")
	}
	// GetValue checks these too; checked here first so that they are
	// told apart from a store that fails.
	if err := CheckValueRef(namespace, ref); err != nil {
		return nil, bad("%v", err)
	}
	if ref.Size > o.Limits.MaxValue {
		return nil, bad("%d bytes is more than the limit of %d ($%s)", ref.Size, o.Limits.MaxValue, EnvMaxOffloadedValue)
	}
	if o.err != nil {
		return nil, Status(http.StatusServiceUnavailable, fmt.Errorf("event %s: offloaded data %s: %w", ev.ID(), key, o.err))
	}
	if o.Store == nil {
		return nil, Status(http.StatusServiceUnavailable, fmt.Errorf("event %s: offloaded data %s: %w", ev.ID(), key, ErrNoOffloadStore))
	}
	watch := &watchedReader{r: o.Store}
	data, err := GetValue(ctx, watch, namespace, ref, o.Limits.MaxValue)
	switch {
	case err == nil:
	case errors.Is(watch.getErr, ErrArtifactNotFound):
		return nil, bad("no such object in the artifact store")
	case watch.getErr != nil || watch.readErr != nil || ctx.Err() != nil:
		// The store failed, not the reference: the broker retries.
		return nil, Status(http.StatusServiceUnavailable, fmt.Errorf("event %s: %w", ev.ID(), err))
	default:
		// Read in full, and not what the reference says.
		return nil, Status(http.StatusBadRequest, fmt.Errorf("event %s: %w", ev.ID(), err))
	}
	ev.DataEncoded = data
	// Binary mode does not say the data is bytes; structured mode must
	// write bytes as data_base64, or they are mangled into a string.
	ev.DataBase64 = !utf8.Valid(data)
	for _, name := range []string{events.ExtDataRef, events.ExtDataSize, events.ExtDataDigest} {
		ev.SetExtension(name, nil)
	}
	return &ref, nil
}

// watchedReader records how a Get failed, so that a store that cannot be
// reached (temporary) is told apart from content that does not match its
// reference (permanent).
type watchedReader struct {
	r       ArtifactReader
	getErr  error
	readErr error
}

func (w *watchedReader) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := w.r.Get(ctx, key)
	if err != nil {
		w.getErr = err
		return nil, err
	}
	return &watchedBody{rc: rc, w: w}, nil
}

type watchedBody struct {
	rc io.ReadCloser
	w  *watchedReader
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.w.readErr = err
	}
	return n, err
}

func (b *watchedBody) Close() error { return b.rc.Close() }

// sinkNamespace is the namespace of a broker address: Knative's broker
// ingresses (MT channel based and Kafka) and the embedded broker all take
// events at /NAMESPACE/BROKER. "" when the address is not of that form.
func sinkNamespace(sink string) string {
	u, err := url.Parse(sink)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0]
}
