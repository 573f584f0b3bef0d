package broker

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
)

// FuzzIngress sends the ingress whatever the fuzzer makes of a CloudEvent
// request. It must never panic or answer 5xx; it answers 202 only for what
// the CloudEvents SDK itself reads as a valid event, and 4xx for the rest.
//
//	go test ./broker -run '^$' -fuzz FuzzIngress -fuzztime 60s
func FuzzIngress(f *testing.F) {
	seeds := []struct {
		method, path, contentType, specversion, id, source, typ string
		body                                                    []byte
	}{
		{"POST", "/ns/default", "application/json", "1.0", "1", "/s", "t", []byte(`{"a":1}`)},
		{"POST", "/ns/default", "application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"x":1}}`)},
		{"POST", "/ns/default", "application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"0.3","id":"1","source":"/s","type":"t","datacontentencoding":"base64","data":"AAEC"}`)},
		{"POST", "/ns/default", "application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"1.0",`)},
		{"POST", "/ns/default", "application/cloudevents-batch+json", "", "", "", "", []byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`)},
		{"POST", "/ns/default", "application/json", "9000.1", "1", "/s", "t", []byte(`;la}{kjsdf;oai2095{}{}`)},
		{"POST", "/ns/default", "text/plain", "1.0", "", "/s", "t", nil},
		{"POST", "/ns/default", "", "1.0", "1", "", "t", []byte{0, 1, 2}},
		{"POST", "/ns/nope", "application/json", "1.0", "1", "/s", "t", nil},
		{"GET", "/ns/default", "", "1.0", "1", "/s", "t", nil},
		{"POST", "/a/b/c", "", "1.0", "1", "/s", "t", nil},
		// Found by the fuzzer: the SDK accepts a 0.3 extension name with a
		// space, which the store cannot hold (it was answered 503).
		{"POST", "/ns/default", "application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"0.3","id":"1","source":"/s","type":"t","a b":"x"}`)},
		{"POST", "/ns/default", "application/cloudevents+json; charset=utf-8", "", "", "", "", []byte(`{"specversion":"1.0","id":"","source":"/s","type":"t"}`)},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.contentType, s.specversion, s.id, s.source, s.typ, s.body)
	}
	b, err := Start(context.Background(), Options{DataDir: f.TempDir(), MaxEventBytes: 64 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { b.Close() })
	if err := b.Apply(context.Background(), Config{Brokers: []eventingv1.Broker{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "default"}}}}); err != nil {
		f.Fatal(err)
	}
	h := b.Handler()
	f.Fuzz(func(t *testing.T, method, path, contentType, specversion, id, source, typ string, body []byte) {
		req, err := http.NewRequest(method, "http://broker"+path, bytes.NewReader(body))
		if err != nil {
			return // not an HTTP request a client could send
		}
		set := func(k, v string) {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		set("Content-Type", contentType)
		set("Ce-Specversion", specversion)
		set("Ce-Id", id)
		set("Ce-Source", source)
		set("Ce-Type", typ)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		code := rec.Code
		switch {
		case code >= 500:
			t.Fatalf("%s %s answered %d: %s", method, path, code, rec.Body)
		case code == http.StatusAccepted:
			// Only a valid CloudEvent, as the SDK reads it, may be accepted.
			again, _ := http.NewRequest(method, "http://broker"+path, bytes.NewReader(body))
			again.Header = req.Header.Clone()
			ev, err := binding.ToEvent(context.Background(), cehttp.NewMessageFromHttpRequest(again))
			if err != nil {
				t.Fatalf("accepted a request the SDK cannot read: %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("accepted an invalid event: %v", err)
			}
		case code == http.StatusOK && method == http.MethodOptions:
		case code < 400 || code > 499:
			t.Fatalf("%s %s answered %d, want 202 or 4xx", method, path, code)
		}
	})
}
