import { expect } from 'chai';
import type { Receiver } from './receiver.js';
import type { TestCluster } from './cluster.js';
import { waitFor } from './etcd.js';

/** K HTTP tasks firing every second (cron, on the second boundary) at the receiver. */
export async function secondTasks(c: TestCluster, rx: Receiver, k: number, name: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < k; i++) {
    const r = await c.api('POST', '/api/v1/tasks', { name: `${name}-${i}`, schedule: { cron: '* * * * * *' }, action: { http: { url: `${rx.url}/${name}` } } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    ids.push(r.body.id);
  }
  await waitFor(() => ids.every((id) => rx.forTask(id).length > 0), 'every task fired once');
  return ids;
}

/**
 * Waits until every task has been received at a second at or after `untilMs`; with `fromMs`,
 * also at every second in [fromMs, untilMs] (a firing made late by a stalled etcd counts once it
 * arrives; one that never does is still missed after `timeoutMs`).
 */
export async function settle(rx: Receiver, ids: string[], untilMs: number, timeoutMs = 30_000, fromMs?: number): Promise<void> {
  const every = (id: string) => {
    if (fromMs === undefined) return true;
    const seen = new Set(rx.forTask(id).map((h) => h.scheduledMs));
    for (let t = Math.ceil(fromMs / 1000) * 1000; t <= untilMs; t += 1000) if (!seen.has(t)) return false;
    return true;
  };
  const waited = waitFor(() => ids.every((id) => rx.forTask(id).some((h) => h.scheduledMs >= untilMs) && every(id)), 'firings up to the end mark', timeoutMs, 100);
  // With fromMs a series check follows: it names the seconds that never came, and what the slots API says of them.
  await (fromMs === undefined ? waited : waited.catch(() => undefined));
}

export interface SeriesCheck {
  missed: string[];
  /** (task, second) received more than once with attempt 1: never allowed. */
  duplicates: string[];
  /** (task, second) received again as a retry (attempt > 1): allowed only for runs marked lost. */
  retried: string[];
}

/** Every whole second in [fromMs, toMs] for every task: present exactly once? */
export function checkSeries(rx: Receiver, ids: string[], fromMs: number, toMs: number): SeriesCheck {
  const out: SeriesCheck = { missed: [], duplicates: [], retried: [] };
  const first = Math.ceil(fromMs / 1000) * 1000;
  for (const id of ids) {
    const hits = rx.forTask(id);
    for (let t = first; t <= toMs; t += 1000) {
      const at = hits.filter((h) => h.scheduledMs === t);
      if (at.length === 0) out.missed.push(`${id}@${t}`);
      if (at.filter((h) => h.attempt === 1).length > 1) out.duplicates.push(`${id}@${t}`);
      if (at.some((h) => h.attempt > 1)) out.retried.push(`${id}@${t}`);
    }
  }
  return out;
}

/**
 * A retried second must have its first attempt recorded lost: as `lost`, or with the node's own
 * outcome that reached etcd after the leader had written it lost (an etcd partition: the node
 * ran it, could not report before its lease ran out, and journalled the result), which says so.
 */
export async function expectRetriesExplained(c: TestCluster, retried: string[]): Promise<void> {
  for (const key of retried) {
    const [id, ms] = key.split('@') as [string, string];
    const r = await c.api('GET', `/api/v1/runs/${id}-${ms}-1`);
    if (r.body.state !== 'lost') expect(r.body.message ?? '', `first attempt of ${key}: ${r.body.state}, not lost, and not recorded late`).to.match(/recorded late: the leader had presumed this attempt lost/);
  }
}

/**
 * Every task ran at every second in [fromMs, toMs] exactly once; a retry only of a run recorded
 * lost. With a `label`, the counts are printed first (and `extra` after them), pass or fail.
 */
export async function expectSeriesClean(c: TestCluster, rx: Receiver, ids: string[], fromMs: number, toMs: number, label?: string, extra = ''): Promise<SeriesCheck> {
  const s = checkSeries(rx, ids, fromMs, toMs);
  if (label) console.log(`      ${label}: missed ${s.missed.length}, duplicates ${s.duplicates.length}, retried ${s.retried.length}${extra}`);
  if (s.missed.length) {
    // What the cluster says became of each missed second ("why did this not run?"): the failure names its cause.
    const why = await Promise.all(s.missed.slice(0, 6).map(async (key) => {
      const [id, ms] = key.split('@') as [string, string];
      const r = await c.api('GET', `/api/v1/tasks/${id}/slots?from=${ms}&to=${ms}`).catch((e: Error) => ({ body: e.message }));
      return `${key}: ${JSON.stringify(r.body)}`;
    }));
    expect(s.missed, `missed seconds; the slots API says:\n${why.join('\n')}`).to.deep.equal([]);
  }
  expect(s.duplicates).to.deep.equal([]);
  await expectRetriesExplained(c, s.retried);
  return s;
}
