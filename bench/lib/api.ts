/**
 * Talking to Rota's API from a benchmark: one call against any base URL (a node or the load
 * balancer), creating many tasks with retries, and timing a batch of calls.
 */
import { RotaProcess } from '../../test/support/cluster.js';
import { pct, pool, sleep } from './common.js';

/**
 * RotaProcess.api (JSON in and out, a timeout) against any base URL, e.g. the load balancer:
 * that method reads nothing of its node but `url`.
 */
export function apiCall(base: string, ...args: Parameters<RotaProcess['api']>): ReturnType<RotaProcess['api']> {
  return RotaProcess.prototype.api.apply({ url: base } as RotaProcess, args);
}

/** Latency of a batch of calls: percentiles over the calls that succeeded. */
export interface LatencyRow {
  calls: number;
  errors: number;
  perSec: number;
  p50: number;
  p99: number;
  max: number;
}

function latencyRow(latMs: number[], errors: number, elapsedMs: number): LatencyRow {
  const s = [...latMs].sort((a, b) => a - b);
  return { calls: latMs.length + errors, errors, perSec: (1000 * latMs.length) / Math.max(1, elapsedMs), p50: pct(s, 50), p99: pct(s, 99), max: s.length ? s[s.length - 1]! : NaN };
}

/** Runs `n` calls with `concurrency` in flight; `call` answers whether the call succeeded. */
export async function timeCalls(n: number, concurrency: number, call: (i: number) => Promise<boolean>): Promise<LatencyRow> {
  const lat: number[] = [];
  let errors = 0;
  const t0 = Date.now();
  await pool(
    Array.from({ length: n }, (_, i) => i),
    concurrency,
    async (i) => {
      const s = performance.now();
      const ok = await call(i).catch(() => false);
      if (ok) lat.push(performance.now() - s);
      else errors++;
    },
  );
  return latencyRow(lat, errors, Date.now() - t0);
}

export interface CreateResult {
  /** Ids of the tasks created, in input order; failed creates are left out. */
  ids: string[];
  latency: LatencyRow;
  elapsedMs: number;
}

/**
 * Creates `count` tasks (`body(i)` gives each one, with a unique name) with `concurrency`
 * requests in flight, request i going to `base(i)`. A failed attempt is retried up to 3 times;
 * a retry answered 409 means the earlier attempt did create the task, whose id is then looked
 * up by name. Latency is per successful attempt. Logs progress every 10 s through `log`.
 */
export async function createTasks(
  count: number,
  concurrency: number,
  base: (i: number) => string,
  body: (i: number) => { name: string } & Record<string, unknown>,
  log: (...a: unknown[]) => void = () => undefined,
): Promise<CreateResult> {
  const lat: number[] = [];
  let errors = 0;
  let done = 0;
  const t0 = Date.now();
  const progress = setInterval(() => log(`created ${done}/${count} (${Math.round((1000 * done) / (Date.now() - t0))}/s)`), 10_000);
  try {
    const ids = await pool(
      Array.from({ length: count }, (_, i) => i),
      concurrency,
      async (i): Promise<string | null> => {
        const b = body(i);
        for (let attempt = 0; attempt < 4; attempt++) {
          const s = performance.now();
          try {
            const r = await apiCall(base(i), 'POST', '/api/v1/tasks', b, 30_000);
            if (r.status === 201) {
              lat.push(performance.now() - s);
              done++;
              return String(r.body.id);
            }
            if (r.status === 409 && attempt > 0) {
              const found = await apiCall(base(i), 'GET', `/api/v1/tasks?name=${encodeURIComponent(b.name)}&limit=100`);
              const t = (found.body?.items ?? []).find((x: { name: string }) => x.name === b.name);
              if (t) return (done++, String(t.id));
            }
            log(`create ${b.name}: ${r.status} ${JSON.stringify(r.body)}`);
          } catch (e) {
            log(`create ${b.name}: ${(e as Error).message}`);
          }
          errors++;
          await sleep(500);
        }
        return null;
      },
    );
    const elapsedMs = Date.now() - t0;
    return { ids: ids.filter((x): x is string => x !== null), latency: latencyRow(lat, errors, elapsedMs), elapsedMs };
  } finally {
    clearInterval(progress);
  }
}
