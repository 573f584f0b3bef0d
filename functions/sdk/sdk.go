// Package sdk is the runtime of zeroflow functions. A function is a
// Knative-func-style handler,
//
//	Handle(ctx context.Context, e event.Event) (*event.Event, error)
//
// served over CloudEvents HTTP on $PORT, with /health/readiness and
// /health/liveness, that drains and exits on SIGTERM. What it returns is the
// reply, which the broker routes on. Events it sends itself go to $K_SINK.
// Workflow steps use Step, which turns step.run events into typed inputs
// and the step's outputs into the step.result reply.
package sdk

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"
)

// Handler is a function's logic.
type Handler interface {
	// Handle processes one event. A non-nil event is the reply; an error
	// makes the broker retry, unless it carries a 4xx status (see Status).
	Handle(ctx context.Context, e event.Event) (*event.Event, error)
}

// HandlerFunc adapts a func to Handler.
type HandlerFunc func(ctx context.Context, e event.Event) (*event.Event, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e event.Event) (*event.Event, error) {
	return f(ctx, e)
}

// StatusError is an error with the HTTP status the function answers.
type StatusError struct {
	Code int
	Err  error
}

func (e *StatusError) Error() string { return fmt.Sprintf("%d: %v", e.Code, e.Err) }
func (e *StatusError) Unwrap() error { return e.Err }

// Status attaches an HTTP status to err. A 4xx tells the broker not to retry
// (the event is wrong, not the function); a 5xx that it may.
func Status(code int, err error) error { return &StatusError{Code: code, Err: err} }

// statusOf is the HTTP status for an error from a handler.
func statusOf(err error) int {
	var se *StatusError
	if errors.As(err, &se) && se.Code >= 400 && se.Code <= 599 {
		return se.Code
	}
	return http.StatusInternalServerError
}

// IsPermanentStatus reports whether err carries a status that retrying
// cannot change: a 4xx other than 408 and 429 (Knative's retry rule,
// less the 404 and 409 it retries for its own reasons).
func IsPermanentStatus(err error) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Code >= 400 && se.Code < 500 &&
		se.Code != http.StatusRequestTimeout && se.Code != http.StatusTooManyRequests
}
