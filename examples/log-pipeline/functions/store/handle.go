package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Handle stores the records and summary and returns their key, and writes
// the records as the output artifact records.
func Handle(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	store, err := sdk.ArtifactsFromEnv()
	if err != nil || store == nil {
		return sdk.StepOutput{}, sdk.Errored(errors.Join(errors.New("no artifact store: set "+sdk.EnvArtifacts), err))
	}
	doc, err := json.Marshal(map[string]json.RawMessage{"records": json.RawMessage(in.Param("records")), "summary": json.RawMessage(in.Param("summary"))})
	if err != nil {
		return sdk.StepOutput{}, fmt.Errorf("records and summary must be JSON: %w", err)
	}
	key := "results/" + in.Namespace + "/" + in.Workflow + ".json"
	if err := store.Put(ctx, key, bytes.NewReader(doc)); err != nil {
		return sdk.StepOutput{}, sdk.Errored(err)
	}
	artifact, err := in.WriteArtifact(ctx, "records", strings.NewReader(in.Param("records")))
	if err != nil {
		return sdk.StepOutput{}, err
	}
	sdk.Logger(ctx).Info("stored", "key", key, "bytes", len(doc), "artifact", artifact)
	return sdk.StepOutput{Parameters: map[string]string{"key": key}, Artifacts: map[string]string{"records": artifact}}, nil
}
