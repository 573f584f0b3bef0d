// Package archive is the built-in function that keeps the record of every
// finished workflow run: it takes dev.zeroflow.workflow.finished and stores
// the run record in the artifact store, next to the step logs the SDK put
// there, under runs/<namespace>/<workflow>.json.
package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/zeroflow-dev/zeroflow/api/events"
	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// New returns the archive function, storing into store.
func New(store sdk.ArtifactStore) sdk.Handler {
	return sdk.HandlerFunc(func(ctx context.Context, ev event.Event) (*event.Event, error) {
		if ev.Type() != events.TypeWorkflowFinished {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("the archive takes %s events, not %q", events.TypeWorkflowFinished, ev.Type()))
		}
		var rec events.WorkflowFinished
		if err := ev.DataAs(&rec); err != nil {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.finished %s: undecodable data: %w", ev.ID(), err))
		}
		if rec.Workflow == "" || rec.Namespace == "" {
			return nil, sdk.Status(http.StatusBadRequest, fmt.Errorf("workflow.finished %s: the record names no workflow or namespace", ev.ID()))
		}
		b, err := json.MarshalIndent(rec, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode run record %s/%s: %w", rec.Namespace, rec.Workflow, err)
		}
		key := events.RunRecordKey(rec.Namespace, rec.Workflow)
		// Put replaces: a record announced twice is stored once.
		if err := store.Put(ctx, key, bytes.NewReader(append(b, '\n'))); err != nil {
			return nil, fmt.Errorf("archive %s/%s: %w", rec.Namespace, rec.Workflow, err)
		}
		sdk.Logger(ctx).Info("archived", "workflow", rec.Namespace+"/"+rec.Workflow, "phase", rec.Phase, "key", key)
		return nil, nil
	})
}
