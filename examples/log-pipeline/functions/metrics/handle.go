package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Handle returns the summary parameter, a JSON object.
func Handle(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	var records []map[string]any
	if err := json.Unmarshal([]byte(in.Param("records")), &records); err != nil {
		return sdk.StepOutput{}, fmt.Errorf("records: %w", err)
	}
	byLevel := map[string]int{}
	for _, r := range records {
		level, _ := r["level"].(string)
		if level == "" {
			level = "info"
		}
		byLevel[level]++
	}
	summary, _ := json.Marshal(map[string]any{"count": len(records), "byLevel": byLevel})
	sdk.Logger(ctx).Info("measured", "summary", string(summary))
	return sdk.StepOutput{Parameters: map[string]string{"summary": string(summary)}}, nil
}
