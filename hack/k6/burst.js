// burst.js: the first users' load: a burst of COUNT webhooks (default 500),
// VUS at a time, each a batch of execution records as a short-lived
// serverless workflow would report them. Every response must be 200.
//
//   k6 run -e URL=http://127.0.0.1:12000/workflow-a -e COUNT=500 hack/k6/burst.js
//
// HOST, when set, is sent as the Host header: on a cluster, the URL is the
// ingress (Kourier, port-forwarded) and HOST the Knative Service's host.
import http from 'k6/http';
import { check } from 'k6';

const url = __ENV.URL || 'http://127.0.0.1:12000/workflow-a';
const count = parseInt(__ENV.COUNT || '500', 10);
const vus = parseInt(__ENV.VUS || '50', 10);

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    burst: { executor: 'shared-iterations', vus: Math.min(vus, count), iterations: count, maxDuration: __ENV.MAX_DURATION || '5m' },
  },
  thresholds: { checks: ['rate==1'] },
};

const levels = ['info', 'info', 'info', 'warn', 'error'];

export default function () {
  const n = 1 + (__ITER % 5);
  const records = [];
  for (let i = 0; i < n; i++) {
    records.push({
      execution: `exec-${__VU}-${__ITER}-${i}`,
      level: levels[(__ITER + i) % levels.length],
      durationMs: 10 + ((__ITER * 7 + i * 13) % 990),
      message: 'function log line from a short-lived step',
    });
  }
  const headers = { 'Content-Type': 'application/json' };
  if (__ENV.HOST) {
    headers['Host'] = __ENV.HOST;
  }
  const res = http.post(url, JSON.stringify({ batch: __ITER, vu: __VU, records: records }), { headers: headers });
  check(res, { 'status 200': (r) => r.status === 200 });
}

export function handleSummary(data) {
  const out = { stdout: textSummary(data) };
  if (__ENV.SUMMARY) {
    out[__ENV.SUMMARY] = JSON.stringify(data);
  }
  return out;
}

function textSummary(data) {
  const d = data.metrics.http_req_duration.values;
  const reqs = data.metrics.http_reqs.values;
  const failed = data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0;
  return `webhooks sent: ${reqs.count} (${reqs.rate.toFixed(0)}/s), failed: ${failed}\n` +
    `accepted in: p50 ${d.med.toFixed(2)} ms, p90 ${d['p(90)'].toFixed(2)} ms, p99 ${d['p(99)'].toFixed(2)} ms, max ${d.max.toFixed(2)} ms\n`;
}
