// webhook.js: POST JSON to a webhook as fast as VUS virtual users can
// (throughput), or at RATE requests per second (latency), for DURATION.
// Every response must be 200; the summary goes to SUMMARY as JSON.
//
//   k6 run -e URL=http://127.0.0.1:12000/workflow-a -e VUS=64 -e DURATION=10s hack/k6/webhook.js
//   k6 run -e URL=... -e RATE=1000 -e DURATION=10s hack/k6/webhook.js
import http from 'k6/http';
import { check } from 'k6';

const url = __ENV.URL;
const rate = parseInt(__ENV.RATE || '0', 10);
const vus = parseInt(__ENV.VUS || '64', 10);
const duration = __ENV.DURATION || '10s';
const headers = JSON.parse(__ENV.HEADERS || '{"Content-Type": "application/json"}');

export const options = {
  discardResponseBodies: true,
  summaryTrendStats: ['med', 'p(90)', 'p(99)', 'max'],
  scenarios: {
    webhook: rate > 0
      ? { executor: 'constant-arrival-rate', rate: rate, timeUnit: '1s', duration: duration, preAllocatedVUs: Math.max(50, rate / 10), maxVUs: Math.max(200, rate / 2) }
      : { executor: 'constant-vus', vus: vus, duration: duration },
  },
};

export default function () {
  const body = JSON.stringify({ batch: __ITER, vu: __VU, message: 'function log line from a short-lived step', level: 'info' });
  const res = http.post(url, body, { headers: headers });
  check(res, { 'status 200': (r) => r.status === 200 });
}

export function handleSummary(data) {
  const out = {};
  out[__ENV.SUMMARY || 'k6-summary.json'] = JSON.stringify(data);
  return out;
}
