package controller

// StepTokenOf is the step token of the step.run runID under key, for tests
// that answer a step another instance dispatched.
func StepTokenOf(key []byte, runID string) string { return stepToken(key, runID) }
