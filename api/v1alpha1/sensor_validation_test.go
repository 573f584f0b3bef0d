package v1alpha1

import (
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/yaml"
)

// sensorErr is one expected error of ValidateSensor: its type, its exact
// field path and a substring of its message.
type sensorErr struct {
	typ  field.ErrorType
	path string
	msg  string
}

// validSensor is a realistic sensor: three dependencies with every filter
// group, conditions over them with an hourly reset in Asia/Seoul, and one
// trigger of each kind with the options a trigger can have.
const validSensor = `
apiVersion: zeroflow.dev/v1alpha1
kind: Sensor
metadata:
  name: release-events
  namespace: ci
spec:
  eventBusName: default
  loggingFields: {team: platform}
  dependencies:
  - name: push
    eventSourceName: github
    eventName: push
    filtersLogicalOperator: and
    filters:
      context: {type: webhook, source: github}
      data:
      - {path: body.ref, type: string, value: ["^refs/heads/main$"]}
      - {path: body.commits.#, type: number, comparator: ">=", value: ["1"]}
      dataLogicalOperator: and
      exprs:
      - expr: ref == "refs/heads/main" && size > 0
        fields: [{name: ref, path: body.ref}, {name: size, path: body.size}]
      exprLogicalOperator: or
      time: {start: "22:00:00", stop: "06:00:00", timezone: Asia/Seoul}
  - name: tag
    eventSourceName: github
    eventName: create
  - name: ci_passed
    eventSourceName: ci-status
    eventName: status
  triggers:
  - template:
      name: release
      conditions: "(push || tag) && ci_passed"
      conditionsReset:
      - byTime: {cron: "0 * * * *", timezone: Asia/Seoul}
      workflow:
        operation: submit
        source:
          resource:
            apiVersion: zeroflow.dev/v1alpha1
            kind: Workflow
            metadata: {generateName: release-}
            spec: {workflowTemplateRef: {name: release}}
        parameters:
        - src: {dependencyName: push, dataKey: body.after}
          dest: spec.arguments.parameters.0.value
    retryStrategy: {steps: 3, duration: 1000000000, factor: 2, jitter: 0.5}
    rateLimit: {unit: Minute, requestsPerUnit: 10}
    atLeastOnce: true
    dlqTrigger:
      template:
        name: release-failed
        log: {intervalSeconds: 60}
  - template:
      name: resume-legacy
      conditions: tag
      argoWorkflow:
        operation: resume
        source: {inline: "kind: Workflow\nmetadata: {name: legacy}"}
  - template:
      name: apply-config
      conditions: push
      k8s:
        operation: patch
        patchStrategy: application/json-patch+json
        source:
          resource: {apiVersion: v1, kind: ConfigMap, metadata: {name: release}}
  - template:
      name: notify-http
      conditions: ci_passed
      http:
        url: https://hooks.example.com/release
        method: put
        timeout: 10
        headers: {Content-Type: application/json}
        secureHeaders:
        - name: Authorization
          valueFrom: {secretKeyRef: {name: hook, key: token}}
        basicAuth:
          username: {name: hook, key: user}
          password: {name: hook, key: password}
        payload:
        - {src: {dependencyName: ci_passed, dataKey: body.status}, dest: status}
    policy: {status: {allow: [200, 201, 204]}}
    retryStrategy: {duration: "1s"}
  - template:
      name: audit
      conditions: push || tag || ci_passed
      log: {}
  - template:
      name: forward
      conditions: tag
      cloudEvent:
        type: dev.zeroflow.release
        source: /release
        subject: main
        url: http://broker.example.svc/default
        extensions: {team: platform, tier2: gold}
  - template:
      name: chat
      conditions: tag
      slack:
        webhookURL: {name: slack, key: url}
        message: released
`

// sensorDeps are the dependencies of sensorDoc when it is given none.
const sensorDeps = `
- {name: a, eventSourceName: src, eventName: a}
- {name: b, eventSourceName: src, eventName: b}
- {name: c, eventSourceName: src, eventName: c}`

// sensorDoc is a Sensor named s with deps (sensorDeps when empty) and
// triggers (a log trigger when empty), both YAML lists at column 0.
func sensorDoc(deps, triggers string) string {
	if deps == "" {
		deps = sensorDeps
	}
	if triggers == "" {
		triggers = "- template: {name: t, log: {}}"
	}
	return "metadata: {name: s}\nspec:\n  dependencies:\n" + indent(deps, "  ") + "\n  triggers:\n" + indent(triggers, "  ") + "\n"
}

// withTriggers is sensorDoc with the default dependencies a, b and c.
func withTriggers(triggers string) string { return sensorDoc("", triggers) }

// decodeSensor parses doc strictly, so that a typo in a test fails loudly
// instead of leaving a field unset.
func decodeSensor(t *testing.T, doc string) *Sensor {
	t.Helper()
	var s Sensor
	if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
		t.Fatalf("parse sensor: %v\n%s", err, doc)
	}
	return &s
}

// checkSensorErrors asserts that errs are exactly want: the same multiset
// of type and path, each error with its message.
func checkSensorErrors(t *testing.T, errs field.ErrorList, want []sensorErr) {
	t.Helper()
	var got, expected []string
	for _, e := range errs {
		got = append(got, string(e.Type)+" "+e.Field)
	}
	for _, w := range want {
		expected = append(expected, string(w.typ)+" "+w.path)
	}
	sort.Strings(got)
	sort.Strings(expected)
	if strings.Join(got, "\n") != strings.Join(expected, "\n") {
		t.Fatalf("errors = %q, want %q\nerrors:\n%s", got, expected, listErrors(errs))
	}
	used := make([]bool, len(errs))
	for _, w := range want {
		found := false
		for i, e := range errs {
			if !used[i] && e.Type == w.typ && e.Field == w.path && strings.Contains(e.Error(), w.msg) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no %s error at %s contains %q\nerrors:\n%s", w.typ, w.path, w.msg, listErrors(errs))
		}
	}
}

func TestValidateSensor(t *testing.T) {
	const (
		required     = field.ErrorTypeRequired
		invalid      = field.ErrorTypeInvalid
		duplicate    = field.ErrorTypeDuplicate
		forbidden    = field.ErrorTypeForbidden
		notSupported = field.ErrorTypeNotSupported
	)
	cases := []struct {
		name string
		doc  string
		want []sensorErr
	}{
		// Valid sensors.
		{name: "realistic sensor with every trigger kind is valid", doc: validSensor},
		{name: "empty conditions mean every dependency", doc: withTriggers(`
- template: {name: t, conditions: "  ", log: {}}`)},
		{name: "conditions may negate and nest", doc: withTriggers(`
- template: {name: t, conditions: "!(a && b) || (c)", log: {}}`)},
		{name: "cron descriptors and the default time zone are accepted", doc: withTriggers(`
- template:
    name: t
    conditionsReset: [{byTime: {cron: "@daily"}}, {byTime: {cron: "30 9 * * 1-5", timezone: UTC}}]
    log: {}`)},
		{name: "a time window may wrap past midnight", doc: sensorDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filters: {time: {start: "23:00:00", stop: "01:30:00"}}`, "")},
		{name: "http url may be a placeholder when a parameter of the http trigger sets it", doc: withTriggers(`
- template:
    name: t
    http:
      url: placeholder
      parameters: [{src: {dependencyName: a, dataKey: url}, dest: url}]`)},
		{name: "http url may be a placeholder when a trigger parameter sets http.url", doc: withTriggers(`
- template: {name: t, http: {url: placeholder}}
  parameters: [{src: {dependencyName: a, dataKey: url}, dest: http.url}]`)},
		{name: "cloudEvent url may be a placeholder when a trigger parameter sets cloudEvent.url", doc: withTriggers(`
- template: {name: t, cloudEvent: {type: x, url: placeholder}}
  parameters: [{src: {dependencyName: a, dataKey: url}, dest: cloudEvent.url}]`)},
		{name: "retryStrategy takes numbers as YAML numbers or strings", doc: withTriggers(`
- template: {name: t, log: {}}
  retryStrategy: {steps: 2, duration: "1000000000", factor: "1.5", jitter: 0}`)},

		// The sensor as a whole.
		{
			name: "a sensor needs a name",
			doc:  "spec:\n  dependencies:\n" + indent(sensorDeps, "  ") + "\n  triggers: [{template: {name: t, log: {}}}]\n",
			want: []sensorErr{{required, "metadata.name", "every object needs a name"}},
		},
		{
			name: "a sensor needs dependencies and triggers",
			doc:  "metadata: {name: s}\nspec: {dependencies: [], triggers: []}\n",
			want: []sensorErr{
				{required, "spec.dependencies", "at least one event"},
				{required, "spec.triggers", "at least one thing"},
			},
		},

		// Dependencies.
		{
			name: "duplicate dependency names",
			doc: sensorDoc(`
- {name: a, eventSourceName: src, eventName: a}
- {name: b, eventSourceName: src, eventName: b}
- {name: a, eventSourceName: src, eventName: c}`, ""),
			want: []sensorErr{{duplicate, "spec.dependencies[2].name", `"a"`}},
		},
		{
			name: "dependency name, source and event",
			doc: sensorDoc(`
- {name: a.b, eventSourceName: src, eventName: a}
- {name: -x, eventSourceName: src, eventName: a}
- {name: c}`, ""),
			want: []sensorErr{
				{invalid, "spec.dependencies[0].name", `"a.b": letters, digits`},
				{invalid, "spec.dependencies[1].name", `"-x"`},
				{required, "spec.dependencies[2].eventSourceName", "the EventSource"},
				{required, "spec.dependencies[2].eventName", "the event of that EventSource"},
			},
		},
		{
			name: "unknown logical operators",
			doc: sensorDoc(`
- name: a
  eventSourceName: src
  eventName: a
  filtersLogicalOperator: xor
  filters: {dataLogicalOperator: AND, exprLogicalOperator: "||"}`, ""),
			want: []sensorErr{
				{notSupported, "spec.dependencies[0].filtersLogicalOperator", `"xor": supported values: "and", "or"`},
				{notSupported, "spec.dependencies[0].filters.dataLogicalOperator", `"AND"`},
				{notSupported, "spec.dependencies[0].filters.exprLogicalOperator", `"||"`},
			},
		},
		{
			name: "time filter clocks and time zone",
			doc: sensorDoc(`
- {name: a, eventSourceName: src, eventName: a, filters: {time: {start: "9:05:00", stop: "25:00:00", timezone: Mars/Olympus}}}
- {name: b, eventSourceName: src, eventName: b, filters: {time: {start: "09:05", stop: noon}}}`, ""),
			want: []sensorErr{
				{invalid, "spec.dependencies[0].filters.time.start", `"9:05:00" is not a time of day HH:MM:SS`},
				{invalid, "spec.dependencies[0].filters.time.stop", `"25:00:00" is not a time of day`},
				{invalid, "spec.dependencies[0].filters.time.timezone", "not an IANA time zone"},
				{invalid, "spec.dependencies[1].filters.time.start", `"09:05"`},
				{invalid, "spec.dependencies[1].filters.time.stop", `"noon"`},
			},
		},

		// Trigger names and conditions.
		{
			name: "a trigger needs a template",
			doc:  withTriggers("- parameters: []"),
			want: []sensorErr{{required, "spec.triggers[0].template", "a trigger has a template"}},
		},
		{
			name: "duplicate trigger names",
			doc: withTriggers(`
- template: {name: t, log: {}}
- template: {name: u, log: {}}
- template: {name: t, log: {}}`),
			want: []sensorErr{{duplicate, "spec.triggers[2].template.name", `"t"`}},
		},
		{
			name: "trigger name",
			doc:  withTriggers("- template: {name: fire now, log: {}}"),
			want: []sensorErr{{invalid, "spec.triggers[0].template.name", `"fire now"`}},
		},
		{
			name: "conditions name an unknown dependency",
			doc:  withTriggers(`- template: {name: t, conditions: "a && d", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", `"d" is not a dependency of this sensor`}},
		},
		{
			name: "an unknown dependency named twice is one error",
			doc:  withTriggers(`- template: {name: t, conditions: "d || (d && a) || e", log: {}}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].template.conditions", `"d" is not a dependency`},
				{invalid, "spec.triggers[0].template.conditions", `"e" is not a dependency`},
			},
		},
		{
			name: "conditions with a task result",
			doc:  withTriggers(`- template: {name: t, conditions: "a.Succeeded && b", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", "a.Succeeded: conditions name dependencies only, without a result"}},
		},
		{
			name: "conditions with a dangling operator",
			doc:  withTriggers(`- template: {name: t, conditions: "a &&", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", `"a &&": conditions combine dependency names with &&, || and parentheses`}},
		},
		{
			name: "conditions with a single ampersand",
			doc:  withTriggers(`- template: {name: t, conditions: "a & b", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", "conditions combine dependency names"}},
		},
		{
			name: "conditions with unbalanced parentheses",
			doc:  withTriggers(`- template: {name: t, conditions: "(a || b", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", "conditions combine dependency names"}},
		},
		{
			name: "conditions with an unknown result",
			doc:  withTriggers(`- template: {name: t, conditions: "a.Done", log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditions", "conditions combine dependency names"}},
		},

		// conditionsReset.
		{
			name: "a reset criterion needs byTime",
			doc:  withTriggers(`- template: {name: t, conditionsReset: [{}], log: {}}`),
			want: []sensorErr{{required, "spec.triggers[0].template.conditionsReset[0].byTime", "the only reset criterion is byTime"}},
		},
		{
			name: "bad cron",
			doc: withTriggers(`
- template:
    name: t
    conditionsReset:
    - byTime: {cron: "0 * * * *"}
    - byTime: {cron: "61 * * * *"}
    - byTime: {cron: "0 0 * * * *"}
    - byTime: {cron: "every hour"}
    log: {}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].template.conditionsReset[1].byTime.cron", `cron "61 * * * *"`},
				{invalid, "spec.triggers[0].template.conditionsReset[2].byTime.cron", "five fields"},
				{invalid, "spec.triggers[0].template.conditionsReset[3].byTime.cron", `cron "every hour"`},
			},
		},
		{
			name: "a time zone in the cron",
			doc: withTriggers(`
- template:
    name: t
    conditionsReset:
    - byTime: {cron: "TZ=Asia/Seoul 0 * * * *"}
    - byTime: {cron: "CRON_TZ=UTC 0 * * * *"}
    log: {}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].template.conditionsReset[0].byTime.cron", "set the time zone in timezone, not in the schedule"},
				{invalid, "spec.triggers[0].template.conditionsReset[1].byTime.cron", "set the time zone in timezone"},
			},
		},
		{
			name: "bad reset time zone",
			doc:  withTriggers(`- template: {name: t, conditionsReset: [{byTime: {cron: "0 * * * *", timezone: Asia/Gotham}}], log: {}}`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.conditionsReset[0].byTime.timezone", "not an IANA time zone"}},
		},

		// Trigger kinds.
		{
			name: "no trigger kind",
			doc:  withTriggers("- template: {name: t}"),
			want: []sensorErr{{required, "spec.triggers[0].template", "set one trigger kind"}},
		},
		{
			name: "two trigger kinds",
			doc:  withTriggers("- template: {name: t, log: {}, http: {url: \"https://example.com\"}}"),
			want: []sensorErr{{invalid, "spec.triggers[0].template", `"http, log": set one trigger kind per trigger`}},
		},
		{
			name: "workflow and argoWorkflow are one kind under two names",
			doc: withTriggers(`
- template:
    name: t
    workflow: {source: {inline: "kind: Workflow"}}
    argoWorkflow: {source: {inline: "kind: Workflow"}}`),
			want: []sensorErr{{forbidden, "spec.triggers[0].template.argoWorkflow", "one trigger under two names"}},
		},
		{
			name: "workflow source and operation",
			doc: withTriggers(`
- template: {name: t1, workflow: {operation: submit}}
- template: {name: t2, argoWorkflow: {source: {}}}
- template: {name: t3, workflow: {operation: retry, source: {inline: "kind: Workflow", resource: {kind: Workflow}}}}`),
			want: []sensorErr{
				{required, "spec.triggers[0].template.workflow.source", "the object"},
				{required, "spec.triggers[1].template.argoWorkflow.source", "the object"},
				{invalid, "spec.triggers[2].template.workflow.source", "set one of resource and inline"},
				{notSupported, "spec.triggers[2].template.workflow.operation", `"retry"`},
			},
		},
		{
			name: "k8s source, operation and patch strategy",
			doc:  withTriggers(`- template: {name: t, k8s: {operation: apply, patchStrategy: text/plain}}`),
			want: []sensorErr{
				{required, "spec.triggers[0].template.k8s.source", "the object"},
				{notSupported, "spec.triggers[0].template.k8s.operation", `"apply"`},
				{notSupported, "spec.triggers[0].template.k8s.patchStrategy", `"text/plain"`},
			},
		},
		{
			name: "http url must be absolute http or https",
			doc: withTriggers(`
- template: {name: t1, http: {url: /hook}}
- template: {name: t2, http: {url: "ftp://example.com/x"}}
- template: {name: t3, http: {url: "https://"}}
- template: {name: t4, http: {url: "http://example.com/ok"}}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].template.http.url", `"/hook": an absolute http or https URL`},
				{invalid, "spec.triggers[1].template.http.url", `"ftp://example.com/x"`},
				{invalid, "spec.triggers[2].template.http.url", `"https://"`},
			},
		},
		{
			name: "http url is checked when the parameters set something else",
			doc: withTriggers(`
- template:
    name: t
    http:
      url: placeholder
      parameters: [{src: {dependencyName: a, dataKey: m}, dest: method}]
  parameters: [{src: {dependencyName: a, dataKey: u}, dest: url}]`),
			want: []sensorErr{{invalid, "spec.triggers[0].template.http.url", `"placeholder"`}},
		},
		{
			name: "http method, timeout, secure headers and basic auth",
			doc: withTriggers(`
- template:
    name: t
    http:
      url: "https://example.com"
      method: CONNECT
      timeout: -1
      secureHeaders:
      - valueFrom: {secretKeyRef: {name: s, key: k}}
      - {name: X-Token, valueFrom: {secretKeyRef: {name: s}}}
      - {name: X-Other}
      basicAuth: {username: {name: s}}`),
			want: []sensorErr{
				{notSupported, "spec.triggers[0].template.http.method", `"CONNECT"`},
				{invalid, "spec.triggers[0].template.http.timeout", "-1: seconds, at least 0"},
				{required, "spec.triggers[0].template.http.secureHeaders[0].name", "the header's name"},
				{required, "spec.triggers[0].template.http.secureHeaders[1].valueFrom.secretKeyRef", "the secret key"},
				{required, "spec.triggers[0].template.http.secureHeaders[2].valueFrom.secretKeyRef", "the secret key"},
				{required, "spec.triggers[0].template.http.basicAuth.username", "the user name"},
				{required, "spec.triggers[0].template.http.basicAuth.password", "the password"},
			},
		},
		{
			name: "cloudEvent type, url and extension names",
			doc: withTriggers(`
- template:
    name: t
    cloudEvent:
      url: broker
      extensions: {Team: a, team-name: b, thisnameislongerthan20: c, ok1: d}`),
			want: []sensorErr{
				{required, "spec.triggers[0].template.cloudEvent.type", "the CloudEvent type"},
				{invalid, "spec.triggers[0].template.cloudEvent.url", `"broker"`},
				{invalid, "spec.triggers[0].template.cloudEvent.extensions[Team]", "lowercase letters and digits"},
				{invalid, "spec.triggers[0].template.cloudEvent.extensions[team-name]", "lowercase letters and digits"},
				{invalid, "spec.triggers[0].template.cloudEvent.extensions[thisnameislongerthan20]", "lowercase letters and digits"},
			},
		},
		{
			name: "slack needs the webhook URL's secret",
			doc: withTriggers(`
- template: {name: t1, slack: {message: hi}}
- template: {name: t2, slack: {webhookURL: {name: slack}}}`),
			want: []sensorErr{
				{required, "spec.triggers[0].template.slack.webhookURL", "the secret key"},
				{required, "spec.triggers[1].template.slack.webhookURL", "the secret key"},
			},
		},

		// Trigger options.
		{
			name: "retryStrategy durations, factors and steps",
			doc: withTriggers(`
- template: {name: t1, log: {}}
  retryStrategy: {duration: soon}
- template: {name: t2, log: {}}
  retryStrategy: {duration: -1s}
- template: {name: t3, log: {}}
  retryStrategy: {duration: 1.5}
- template: {name: t4, log: {}}
  retryStrategy: {factor: double}
- template: {name: t5, log: {}}
  retryStrategy: {jitter: -0.5}
- template: {name: t6, log: {}}
  retryStrategy: {steps: -1}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].retryStrategy", `duration "soon": a duration like 1s`},
				{invalid, "spec.triggers[1].retryStrategy", `duration "-1s"`},
				{invalid, "spec.triggers[2].retryStrategy", `duration "1.5"`},
				{invalid, "spec.triggers[3].retryStrategy", `factor "double": a number, at least 0`},
				{invalid, "spec.triggers[4].retryStrategy", `jitter "-0.5"`},
				{invalid, "spec.triggers[5].retryStrategy", "steps -1: at least 1 attempt"},
			},
		},
		{
			name: "policy statuses are HTTP statuses",
			doc: withTriggers(`
- template: {name: t, http: {url: "https://example.com"}}
  policy: {status: {allow: [200, 99, 600, 599]}}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].policy.status.allow[1]", "99: an HTTP status, 100 to 599"},
				{invalid, "spec.triggers[0].policy.status.allow[2]", "600"},
			},
		},
		{
			name: "rateLimit unit and requests",
			doc: withTriggers(`
- template: {name: t1, log: {}}
  rateLimit: {unit: Day, requestsPerUnit: 1}
- template: {name: t2, log: {}}
  rateLimit: {unit: Minute}`),
			want: []sensorErr{
				{notSupported, "spec.triggers[0].rateLimit.unit", `"Day": supported values: "Second", "Minute", "Hour"`},
				{invalid, "spec.triggers[1].rateLimit.requestsPerUnit", "0: at least 1"},
			},
		},
		{
			name: "a dead-letter trigger has none of its own",
			doc: withTriggers(`
- template: {name: t, log: {}}
  dlqTrigger:
    template: {name: dlq, log: {}}
    dlqTrigger:
      template: {name: dlq2, log: {}}`),
			want: []sensorErr{{forbidden, "spec.triggers[0].dlqTrigger.dlqTrigger", "no dead-letter trigger of its own"}},
		},
		{
			name: "a dead-letter trigger is checked as a trigger",
			doc: withTriggers(`
- template: {name: t1, log: {}}
  dlqTrigger:
    template: {name: dlq, conditions: "a || z"}
    retryStrategy: {factor: x}
- template: {name: t2, log: {}}
  dlqTrigger: {parameters: []}`),
			want: []sensorErr{
				{invalid, "spec.triggers[0].dlqTrigger.template.conditions", `"z" is not a dependency`},
				{required, "spec.triggers[0].dlqTrigger.template", "set one trigger kind"},
				{invalid, "spec.triggers[0].dlqTrigger.retryStrategy", `factor "x"`},
				{required, "spec.triggers[1].dlqTrigger.template", "a trigger has a template"},
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkSensorErrors(t, ValidateSensor(decodeSensor(t, c.doc)), c.want)
		})
	}
}

// Argo's retry duration is an integer number of nanoseconds or a Go
// duration; factor and jitter are numbers, written bare or quoted.
func TestEventBackoffParse(t *testing.T) {
	defaults := wait.Backoff{Steps: 5, Duration: time.Second, Factor: 1, Jitter: 1}
	cases := []struct {
		yaml string
		want wait.Backoff
		err  string
	}{
		{yaml: `{}`, want: defaults},
		{yaml: `{duration: 1000000000}`, want: defaults},
		{yaml: `{duration: "1000000000"}`, want: defaults},
		{yaml: `{duration: "1s"}`, want: defaults},
		{yaml: `{duration: 250ms}`, want: wait.Backoff{Steps: 5, Duration: 250 * time.Millisecond, Factor: 1, Jitter: 1}},
		{yaml: `{duration: 0}`, want: wait.Backoff{Steps: 5, Duration: 0, Factor: 1, Jitter: 1}},
		{yaml: `{steps: 3, duration: 2s, factor: 2, jitter: 0.5}`, want: wait.Backoff{Steps: 3, Duration: 2 * time.Second, Factor: 2, Jitter: 0.5}},
		{yaml: `{factor: "1.5", jitter: "0"}`, want: wait.Backoff{Steps: 5, Duration: time.Second, Factor: 1.5, Jitter: 0}},
		{yaml: `{duration: 1.5}`, err: `duration "1.5"`},
		{yaml: `{duration: -1}`, err: `duration "-1"`},
		{yaml: `{duration: 1d}`, err: `duration "1d"`},
		{yaml: `{factor: -2}`, err: `factor "-2": a number, at least 0`},
		{yaml: `{factor: true}`, err: `factor "true"`},
		{yaml: `{jitter: lots}`, err: `jitter "lots"`},
		{yaml: `{steps: -3}`, err: "steps -3"},
	}
	for _, c := range cases {
		t.Run(c.yaml, func(t *testing.T) {
			var b EventBackoff
			if err := yaml.UnmarshalStrict([]byte(c.yaml), &b); err != nil {
				t.Fatalf("parse: %v", err)
			}
			got, err := b.Parse()
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("err = %v, want it to contain %q", err, c.err)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case got != c.want:
				t.Errorf("backoff = %+v, want %+v", got, c.want)
			}
		})
	}
}

// The schedule runs in its time zone: 09:00 in Seoul is 00:00 UTC.
func TestParseResetScheduleUsesTheTimeZone(t *testing.T) {
	sched, err := ParseResetSchedule(&ConditionsResetByTime{Cron: "0 9 * * *", Timezone: "Asia/Seoul"})
	if err != nil {
		t.Fatal(err)
	}
	next := sched.Next(time.Date(2025, 1, 1, 23, 30, 0, 0, time.UTC))
	if want := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Errorf("next = %v, want %v", next.UTC(), want)
	}
}
