package engine

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zeroflow-dev/zeroflow/api/v1alpha1"
	"github.com/zeroflow-dev/zeroflow/internal/expression"
)

// transient matches messages of failures worth retrying under
// OnTransientError, as Argo's built-in patterns do.
var transient = regexp.MustCompile(`(?i)connection reset by peer|i/o timeout|connection refused|broken pipe|http2: client connection lost|tls handshake timeout|no such host|too many requests|service unavailable|\b50[234]\b|temporar`)

// retryStrategy is the template's strategy, else the workflow's. They are
// never merged, as in Argo.
func (op *operation) retryStrategy(t *v1alpha1.Template) *v1alpha1.RetryStrategy {
	if t.RetryStrategy != nil {
		return t.RetryStrategy
	}
	return op.spec.RetryStrategy
}

type retryDecision struct {
	retry   bool
	wait    time.Duration
	message string
}

// decideRetry applies Argo's order: policy, limit, expression, then backoff
// and maxDuration. Unlike Argo, the backoff applies with no limit set too.
func (op *operation) decideRetry(rs *v1alpha1.RetryStrategy, n v1alpha1.NodeStatus, phase v1alpha1.NodePhase, message string) (retryDecision, error) {
	no := func(why string) (retryDecision, error) {
		if why == "" {
			return retryDecision{message: message}, nil
		}
		if message == "" {
			return retryDecision{message: why}, nil
		}
		return retryDecision{message: message + " (" + why + ")"}, nil
	}
	policy := RetryPolicyOf(rs)
	switch {
	case policy == v1alpha1.RetryOnFailure && phase != v1alpha1.NodeFailed,
		policy == v1alpha1.RetryOnError && phase != v1alpha1.NodeError,
		policy == v1alpha1.RetryOnTransientError && !transient.MatchString(message):
		return no("")
	}
	if rs.Limit != nil {
		limit, err := intOrString(rs.Limit)
		if err != nil {
			return retryDecision{}, fmt.Errorf("retryStrategy.limit: %w", err)
		}
		if int(n.Retries) >= limit {
			return no(fmt.Sprintf("no more retries left after %d attempts", n.Retries+1))
		}
	}
	if rs.Expression != "" {
		exitCode := "-1"
		if n.Outputs != nil && n.Outputs.ExitCode != nil {
			exitCode = strconv.Itoa(int(*n.Outputs.ExitCode))
		}
		env := expression.Expand(map[string]string{
			"retries":            strconv.Itoa(int(n.Retries)),
			"lastRetry.exitCode": exitCode,
			"lastRetry.status":   string(phase),
			"lastRetry.duration": strconv.FormatFloat(op.now.Sub(op.attemptStart(n)).Seconds(), 'f', -1, 64),
			"lastRetry.message":  message,
		})
		ok, err := expression.EvalBool(rs.Expression, env)
		if err != nil {
			return retryDecision{}, fmt.Errorf("retryStrategy.expression: %w", err)
		}
		if !ok {
			return no("retryStrategy.expression evaluated to false")
		}
	}
	d := retryDecision{retry: true}
	if rs.Backoff == nil {
		return d, nil
	}
	wait, err := backoffWait(rs.Backoff, int(n.Retries)+1)
	if err != nil {
		return retryDecision{}, err
	}
	d.wait = wait
	if rs.Backoff.MaxDuration != "" {
		maxDuration, err := ParseSeconds(rs.Backoff.MaxDuration)
		if err != nil {
			return retryDecision{}, fmt.Errorf("retryStrategy.backoff.maxDuration: %w", err)
		}
		limit := op.at(n.Started).Add(maxDuration)
		switch {
		case op.now.After(limit):
			return no("max duration limit exceeded")
		case op.now.Add(wait).After(limit):
			return no("backoff would exceed max duration limit")
		}
	}
	return d, nil
}

// RetryPolicyOf is the policy in force: OnFailure by default, Always when
// only an expression is given.
func RetryPolicyOf(rs *v1alpha1.RetryStrategy) v1alpha1.RetryPolicy {
	switch {
	case rs.RetryPolicy != "":
		return rs.RetryPolicy
	case rs.Expression != "":
		return v1alpha1.RetryAlways
	default:
		return v1alpha1.RetryOnFailure
	}
}

// backoffWait is the wait after attempt n (1-based):
// duration * factor^(n-1), at most cap.
func backoffWait(b *v1alpha1.Backoff, n int) (time.Duration, error) {
	if b.Duration == "" {
		return 0, fmt.Errorf("retryStrategy.backoff.duration is required")
	}
	base, err := ParseSeconds(b.Duration)
	if err != nil {
		return 0, fmt.Errorf("retryStrategy.backoff.duration: %w", err)
	}
	factor := 1
	if b.Factor != nil {
		if factor, err = intOrString(b.Factor); err != nil {
			return 0, fmt.Errorf("retryStrategy.backoff.factor: %w", err)
		}
		if factor < 1 {
			factor = 1
		}
	}
	wait := float64(base) * math.Pow(float64(factor), float64(n-1))
	if b.Cap != "" {
		c, err := ParseSeconds(b.Cap)
		if err != nil {
			return 0, fmt.Errorf("retryStrategy.backoff.cap: %w", err)
		}
		wait = math.Min(wait, float64(c))
	}
	if wait > float64(math.MaxInt64/2) {
		wait = float64(math.MaxInt64 / 2)
	}
	return time.Duration(wait), nil
}

// ParseSeconds reads Argo's duration strings: a bare integer is seconds,
// anything else a Go duration ("2m", "1h30m").
func ParseSeconds(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("%q is negative", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds nor a duration like 30s or 2m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

func intOrString(v interface {
	String() string
}) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v.String()))
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", v.String())
	}
	return n, nil
}
