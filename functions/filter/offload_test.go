package filter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/event"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"sigs.k8s.io/yaml"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/functions/filter"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// The filter sees an offloaded event's data (its data filter matches a
// field of a 2 MiB body), and its dependency event, which embeds the
// matched event, is offloaded again rather than sent at 2 MiB.
func TestFilterSeesOffloadedDataAndOffloadsItsReply(t *testing.T) {
	var s v1alpha1.Sensor
	if err := yaml.UnmarshalStrict([]byte(`
metadata: {name: big, namespace: team-a}
spec:
  dependencies:
  - name: logs
    eventSourceName: src
    eventName: e
    filters:
      data:
      - {path: body.kind, type: string, value: [batch]}
  triggers:
  - template: {name: t, log: {}}
`), &s); err != nil {
		t.Fatal(err)
	}
	fn, err := filter.NewFunction(&s, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := sdk.DirArtifacts{Dir: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = sdk.Serve(ctx, fn, sdk.Options{Listener: l, Offload: sdk.EventOffload{Store: store}, Namespace: "team-a"})
	}()

	data := []byte(fmt.Sprintf(`{"body":{"kind":"batch","lines":%q}}`, strings.Repeat("x", 2<<20)))
	in := event.New()
	in.SetID("e-1")
	in.SetType("webhook")
	in.SetSource("src")
	in.SetExtension(events.ExtEventSource, "src")
	in.SetExtension(events.ExtEvent, "e")
	_ = in.SetData(event.ApplicationJSON, data)
	if err := sdk.OffloadEvent(ctx, sdk.EventOffload{Store: store}, "team-a", &in); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/logs", nil)
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&in), req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("filter answered %d: %s", resp.StatusCode, body)
	}
	if len(body) != 0 || resp.Header.Get("Ce-Type") != events.TypeDependency {
		t.Fatalf("reply %s with %d bytes of data, want a dependency event with none", resp.Header.Get("Ce-Type"), len(body))
	}
	ref := v1alpha1.ValueRef{Key: resp.Header.Get("Ce-Zfdataref"), Digest: resp.Header.Get("Ce-Zfdatadigest")}
	if _, err := fmt.Sscan(resp.Header.Get("Ce-Zfdatasize"), &ref.Size); err != nil {
		t.Fatal(err)
	}
	if ref.Key == events.Extension(in, events.ExtDataRef) {
		t.Error("the reply reuses the matched event's object, but its data is the dependency, not the event")
	}
	got, err := sdk.GetValue(ctx, store, "team-a", ref, sdk.DefaultMaxOffloadedValue)
	if err != nil {
		t.Fatal(err)
	}
	var dep events.Dependency
	if err := json.Unmarshal(got, &dep); err != nil {
		t.Fatal(err)
	}
	matched, err := dep.Matched()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(matched.Data(), data) {
		t.Errorf("the dependency holds %d bytes of the matched event's data, want %d", len(matched.Data()), len(data))
	}
	if _, ok := matched.Extensions()[events.ExtDataRef]; ok {
		t.Error("the matched event inside the dependency still has its reference")
	}
}
