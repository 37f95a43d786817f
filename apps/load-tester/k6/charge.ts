/**
 * k6 scenario for the public API: a steady arrival rate, a ramp to saturation, and a burst.
 *
 *   k6 run apps/load-tester/k6/charge.ts                                   # against http://localhost:8080
 *   k6 run -e BASE_URL=http://host:8080 -e RATE=100 -e DURATION=2m apps/load-tester/k6/charge.ts
 *   k6 run -e SCENARIO=burst apps/load-tester/k6/charge.ts                 # one scenario only
 *   K6_PROMETHEUS_RW_SERVER_URL=http://localhost:9090/api/v1/write \
 *     k6 run -o experimental-prometheus-rw apps/load-tester/k6/charge.ts   # k6 metrics into Grafana
 *   docker compose --profile load up k6                                    # the same, inside the stack
 *
 * No traceparent is sent: k6 exports no spans, so a parent it named would be missing from every trace. The
 * charge-api's server span is then each trace's root, and Tempo's service graph draws the edge into it.
 * A 429 GRID_FULL is a correct answer (the grid said no), not a failure; it is counted as a refusal.
 */
import { check } from "k6";
import exec from "k6/execution";
import http from "k6/http";
import { Rate, Trend } from "k6/metrics";
import type { Options, Scenario } from "k6/options";

const BASE_URL = (__ENV.BASE_URL ?? "http://localhost:8080").replace(/\/$/, "");
/** Arrivals per second of the steady scenario; the ramp climbs to 6 x this. */
const RATE = Number(__ENV.RATE ?? 20);
const DURATION = __ENV.DURATION ?? "1m";
/** Each session's length: short, so the grid frees power while the test runs. */
const SESSION_S = Number(__ENV.SESSION_S ?? 30);
const ONLY = __ENV.SCENARIO;

const dispatchTries = new Trend("evgrid_dispatch_tries");
const refusals = new Rate("evgrid_refusals");
const allocatedKw = new Trend("evgrid_allocated_kw");

// Refusals (429) are expected answers: do not count them in http_req_failed.
http.setResponseCallback(http.expectedStatuses(200, 429));

const scenarios: Record<string, Scenario> = {
  steady: {
    executor: "constant-arrival-rate",
    rate: RATE,
    timeUnit: "1s",
    duration: DURATION,
    preAllocatedVUs: 20,
    maxVUs: 200,
  },
  ramp: {
    executor: "ramping-arrival-rate",
    startRate: RATE,
    timeUnit: "1s",
    preAllocatedVUs: 50,
    maxVUs: 1000,
    stages: [
      { target: RATE * 3, duration: "1m" },
      { target: RATE * 6, duration: "1m" },
      { target: 0, duration: "30s" },
    ],
    startTime: ONLY ? "0s" : DURATION,
  },
  burst: {
    executor: "per-vu-iterations",
    vus: 200,
    iterations: 5,
    maxDuration: "1m",
    startTime: ONLY ? "0s" : "4m",
  },
};

export const options: Options = {
  scenarios: ONLY ? { [ONLY]: scenarios[ONLY] as Scenario } : scenarios,
  thresholds: {
    // Errors: anything but 200 and 429 (5xx, timeouts, bad envelopes) fails the run.
    http_req_failed: ["rate<0.01"],
    checks: ["rate>0.99"],
    "http_req_duration{scenario:steady}": ["p(95)<250", "p(99)<500"],
    "http_req_duration{scenario:ramp}": ["p(99)<1500"],
    // A grid that refuses most vehicles at the steady rate is undersized or mis-balanced.
    "evgrid_refusals{scenario:steady}": ["rate<0.05"],
    evgrid_dispatch_tries: ["p(99)<=3"],
  },
};

interface Envelope {
  result?: { data?: { sessionId?: string; substationId?: string; allocatedKw?: number; tries?: number } };
  error?: { data?: { code?: string; reason?: string } };
}

export default function requestCharge(): void {
  const vehicleId = `k6-${exec.vu.idInTest}-${exec.vu.iterationInInstance}`;
  const res = http.post(
    `${BASE_URL}/trpc/requestCharge`,
    JSON.stringify({ vehicleId, maxKw: 11, durationS: SESSION_S }),
    {
      headers: { "content-type": "application/json" },
      tags: { name: "requestCharge" },
    },
  );
  const body = (res.status === 200 || res.status === 429 ? res.json() : null) as Envelope | null;
  const grant = body?.result?.data;
  check(res, {
    "answered 200 or 429": (r) => r.status === 200 || r.status === 429,
    "200 carries a session on a substation": (r) =>
      r.status !== 200 || (typeof grant?.sessionId === "string" && typeof grant.substationId === "string"),
    "429 says GRID_FULL": (r) => r.status !== 429 || body?.error?.data?.reason === "GRID_FULL",
  });
  refusals.add(res.status === 429);
  if (grant?.tries !== undefined) dispatchTries.add(grant.tries);
  if (grant?.allocatedKw !== undefined) allocatedKw.add(grant.allocatedKw);
}
