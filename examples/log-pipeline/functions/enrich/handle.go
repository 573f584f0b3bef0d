package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zeroflow-dev/zeroflow/functions/sdk"
)

// Handle enriches the records parameter.
func Handle(ctx context.Context, in sdk.StepInput) (sdk.StepOutput, error) {
	var records []map[string]any
	if err := json.Unmarshal([]byte(in.Param("records")), &records); err != nil {
		return sdk.StepOutput{}, fmt.Errorf("records: %w", err)
	}
	for _, r := range records {
		if _, ok := r["level"]; !ok {
			r["level"] = "info"
		}
		msg, _ := r["message"].(string)
		r["messageBytes"] = len(msg)
		r["workflow"] = in.Workflow
	}
	out, _ := json.Marshal(records)
	sdk.Logger(ctx).Info("enriched", "records", len(records))
	return sdk.StepOutput{Parameters: map[string]string{"records": string(out)}}, nil
}
