package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Handle parses the payload parameter into records and their count.
func Handle(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	var batch struct {
		Records []json.RawMessage `json:"records"`
	}
	payload := []byte(in.Param("payload"))
	if err := json.Unmarshal(payload, &batch); err != nil {
		return sdk.StepOutput{}, fmt.Errorf("payload is not a JSON object: %w", err)
	}
	if batch.Records == nil {
		batch.Records = []json.RawMessage{payload} // one record
	}
	records, _ := json.Marshal(batch.Records)
	sdk.Logger(ctx).Info("parsed", "records", len(batch.Records))
	return sdk.StepOutput{Parameters: map[string]string{"records": string(records), "count": strconv.Itoa(len(batch.Records))}}, nil
}
