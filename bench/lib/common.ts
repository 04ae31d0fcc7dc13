/**
 * Shared pieces of the benchmarks: percentiles, the missed/duplicate/lateness analysis of what a
 * Receiver recorded, small concurrency helpers and the machine description.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { etcdCounters, perFiring } from './etcd-counters.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Hit } from '../../test/support/receiver.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

export interface StepResult {
  rate: number;
  tasks: number;
  seconds: number;
  mode: 'cron' | 'every';
  expected: number;
  hits: number;
  missed: number;
  duplicates: number;
  retried: number;
  p50: number;
  p99: number;
  max: number;
  /** Tasks that never fired at all during the step (all their seconds counted as missed). */
  silentTasks: number;
  /** The first missed (task, second) pairs, for looking up what happened to them. */
  missedPairs?: { taskId: string; scheduledMs: number }[];
  notes?: string;
  /** % of one core per process over the window (200 = both cores). */
  cpu?: Record<string, number>;
  /** etcd's work per firing due in the window (etcd-counters.ts), when a member was named. */
  etcd?: Record<string, number>;
  /**
   * Scheduled time to the start on each node (its last 1,000 starts, read at the window's end),
   * when node URLs were given: what the received lateness owes to the node, the rest being the
   * callback's way to the receiver.
   */
  started?: Record<string, NodeStarts>;
}

/** A node's view of its starts: its recent lateness, its claims by candidate rank and its backstop looks (cumulative counters). */
export interface NodeStarts {
  p50: number | null;
  p99: number | null;
  claimsByRank: Record<string, number>;
  backstops: Record<string, number>;
}

/**
 * Missed / duplicate / lateness over the window [fromMs, toMs): every task is expected once per
 * second at its own phase (0 for a cron `* * * * * *`, creation-time phase for every 1s; the phase
 * is taken from the task's own hits). A (task, second) pair is missed if nothing for it arrived by
 * the time this is called (after the settle period); a duplicate if it arrived more than once
 * with attempt 1. Lateness is receivedMs - scheduledMs of every hit scheduled in the window.
 */
export function analyze(hits: Hit[], ids: string[], fromMs: number, toMs: number, base: Omit<StepResult, 'expected' | 'hits' | 'missed' | 'duplicates' | 'retried' | 'p50' | 'p99' | 'max' | 'silentTasks'>): StepResult {
  const want = new Set(ids);
  const byTask = new Map<string, Hit[]>();
  for (const h of hits) {
    if (!want.has(h.taskId)) continue;
    let a = byTask.get(h.taskId);
    if (!a) byTask.set(h.taskId, (a = []));
    a.push(h);
  }
  let expected = 0;
  let received = 0;
  let missed = 0;
  let duplicates = 0;
  let retried = 0;
  let silent = 0;
  const late: number[] = [];
  const missedPairs: { taskId: string; scheduledMs: number }[] = [];
  for (const id of ids) {
    const hs = byTask.get(id) ?? [];
    // Phase: the most common scheduledMs % 1000 among this task's hits.
    const phases = new Map<number, number>();
    for (const h of hs) if (Number.isFinite(h.scheduledMs)) phases.set(h.scheduledMs % 1000, (phases.get(h.scheduledMs % 1000) ?? 0) + 1);
    let phase = 0;
    let best = -1;
    for (const [ph, n] of phases) if (n > best) [phase, best] = [ph, n];
    const first = Math.ceil((fromMs - phase) / 1000) * 1000 + phase;
    const at = new Map<number, Hit[]>();
    for (const h of hs) {
      if (h.scheduledMs < fromMs || h.scheduledMs >= toMs) continue;
      late.push(h.receivedMs - h.scheduledMs);
      let a = at.get(h.scheduledMs);
      if (!a) at.set(h.scheduledMs, (a = []));
      a.push(h);
    }
    let taskHits = 0;
    for (let t = first; t < toMs; t += 1000) {
      expected++;
      const a = at.get(t);
      if (!a || a.length === 0) {
        missed++;
        if (missedPairs.length < 50) missedPairs.push({ taskId: id, scheduledMs: t });
        continue;
      }
      taskHits++;
      if (a.filter((h) => !(h.attempt > 1)).length > 1) duplicates++;
      if (a.some((h) => h.attempt > 1)) retried++;
    }
    received += taskHits;
    if (taskHits === 0) silent++;
  }
  late.sort((a, b) => a - b);
  return { ...base, expected, hits: received, missed, duplicates, retried, p50: pct(late, 50), p99: pct(late, 99), max: late.length ? late[late.length - 1]! : NaN, silentTasks: silent, missedPairs };
}

export function machine(): Record<string, unknown> {
  const tryRun = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).trim().split('\n')[0];
    } catch {
      return undefined;
    }
  };
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    memGiB: Math.round(totalmem() / 2 ** 30),
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    node: process.version,
    etcd: tryRun('etcd', ['--version']),
    redis: tryRun('redis-server', ['--version']),
  };
}

const f = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '-');

export function stepTable(title: string, rows: StepResult[]): string {
  const lines = [
    `**${title}**`,
    '',
    '| firings/s | mode | seconds | hits / expected | missed | duplicates | retried | p50 ms | p99 ms | max ms |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.rate} | ${r.mode} | ${r.seconds} | ${r.hits} / ${r.expected} | ${r.missed} | ${r.duplicates} | ${r.retried} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.max)} |`),
  ];
  const clean = rows.filter((r) => r.missed === 0 && r.duplicates === 0).map((r) => r.rate);
  lines.push('', `Highest rate with 0 missed and 0 duplicates: ${clean.length ? Math.max(...clean) + ' firings/s' : 'none'}`);
  return lines.join('\n');
}

export function sideBySide(rota: StepResult[], peer: StepResult[]): string {
  const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : '-');
  const lines = [
    '| firings/s | mode | Rota p50 / p99 / max ms | Rota missed / dup | BullMQ p50 / p99 / max ms | BullMQ missed / dup | peer/Rota p50 | peer/Rota p99 |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rota) {
    const p = peer.find((x) => x.rate === r.rate && x.mode === r.mode);
    lines.push(
      `| ${r.rate} | ${r.mode} | ${f(r.p50)} / ${f(r.p99)} / ${f(r.max)} | ${r.missed} / ${r.duplicates} | ${p ? `${f(p.p50)} / ${f(p.p99)} / ${f(p.max)}` : '-'} | ${p ? `${p.missed} / ${p.duplicates}` : '-'} | ${p ? ratio(p.p50, r.p50) : '-'} | ${p ? ratio(p.p99, r.p99) : '-'} |`,
    );
  }
  return lines.join('\n');
}

export function parseRates(s: string | undefined, full: boolean): number[] {
  if (s) return s.split(',').map((x) => Number(x.trim())).filter((n) => n > 0);
  return full ? [100, 500, 1000, 2000, 4000] : [100, 500];
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (0-based after the comm field), in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** % of one core each named process used between start() and stop(). */
export function cpuMeter(procs: Record<string, number | undefined>): { stop(): Record<string, number> } {
  const t0 = Date.now();
  const s0 = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuSeconds(pid)]));
  return {
    stop() {
      const el = (Date.now() - t0) / 1000;
      return Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, Math.round((100 * (cpuSeconds(pid) - s0[k]!)) / el)]));
    },
  };
}

/** The load options both sides share (rates, seconds, cron or every, warm-up, settle), parsed once. */
export const LOAD_OPTIONS = {
  full: { type: 'boolean', default: false },
  rates: { type: 'string' },
  seconds: { type: 'string' },
  every: { type: 'boolean', default: false },
  warmup: { type: 'string', default: '5' },
  settle: { type: 'string', default: '5' },
  json: { type: 'string' },
} as const;

export function loadSettings(values: { full?: boolean; rates?: string; seconds?: string; every?: boolean; warmup?: string; settle?: string }): {
  full: boolean;
  rates: number[];
  seconds: number;
  mode: 'cron' | 'every';
  warmupMs: number;
  settleMs: number;
} {
  const full = values.full ?? false;
  return {
    full,
    rates: parseRates(values.rates, full),
    seconds: Number(values.seconds ?? (full ? 60 : 15)),
    mode: values.every ? 'every' : 'cron',
    warmupMs: Number(values.warmup ?? '5') * 1000,
    settleMs: Number(values.settle ?? '5') * 1000,
  };
}

/**
 * One measured step, the same for Rota and the peer: wait until every task has fired once (at
 * most 60 s), a warm-up, then a window of whole seconds with the given processes' CPU metered,
 * a settle period, and the analysis of what the receiver got in the window.
 */
export async function measureStep(
  rx: { hits: Hit[] },
  ids: string[],
  s: { rate: number; seconds: number; mode: 'cron' | 'every'; warmupMs: number; settleMs: number; procs: Record<string, number | undefined>; etcd?: string; nodes?: Record<string, string> },
  log: (...a: unknown[]) => void,
): Promise<StepResult> {
  const idSet = new Set(ids);
  const seen = new Set<string>();
  let scanned = 0;
  const deadline = Date.now() + 60_000;
  while (seen.size < ids.length && Date.now() < deadline) {
    for (; scanned < rx.hits.length; scanned++) if (idSet.has(rx.hits[scanned]!.taskId)) seen.add(rx.hits[scanned]!.taskId);
    await sleep(200);
  }
  log(`${seen.size}/${ids.length} fired; warm-up ${s.warmupMs} ms`);
  await sleep(s.warmupMs);
  rx.hits = [];
  const fromMs = Math.ceil(Date.now() / 1000) * 1000 + 1000;
  const toMs = fromMs + s.seconds * 1000;
  await sleep(fromMs - Date.now());
  const meter = cpuMeter(s.procs);
  const before = s.etcd ? await etcdCounters(s.etcd) : null;
  await sleep(toMs - Date.now());
  const cpu = meter.stop();
  const etcd = before && s.etcd ? perFiring(before, await etcdCounters(s.etcd), ids.length * s.seconds) : undefined;
  const started = s.nodes ? await nodeStarts(s.nodes) : undefined;
  if (started) log(`on the nodes (start lateness of the last 1,000 starts, ms; claims by rank and backstop looks since the node started): ${JSON.stringify(started)}`);
  await sleep(s.settleMs);
  return { ...analyze(rx.hits, ids, fromMs, toMs, { rate: s.rate, tasks: ids.length, seconds: s.seconds, mode: s.mode, cpu, etcd }), ...(started ? { started } : {}) };
}

/** A labelled counter of GET /api/v1/cluster's metrics (one value, or one per label value) by `label`. */
function byLabel(v: unknown, label: string): Record<string, number> {
  const rows = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : [];
  return Object.fromEntries(rows.map((r: Record<string, unknown>) => [String(r[label]), Number(r.value)]));
}

/** Each node's own lateness of its recent starts, its claims by rank and backstop looks (GET /api/v1/cluster: metrics). */
async function nodeStarts(nodes: Record<string, string>): Promise<Record<string, NodeStarts>> {
  const out: Record<string, NodeStarts> = {};
  for (const [name, url] of Object.entries(nodes)) {
    try {
      const r = await fetch(`${url}/api/v1/cluster`, { signal: AbortSignal.timeout(5_000) });
      const m = ((await r.json()) as { metrics?: Record<string, unknown> & { lateness?: { p50: number | null; p99: number | null } } }).metrics;
      if (m?.lateness) out[name] = { p50: m.lateness.p50, p99: m.lateness.p99, claimsByRank: byLabel(m.rota_candidate_claims_total, 'rank'), backstops: byLabel(m.rota_planned_backstops_total, 'outcome') };
    } catch {
      // a node that does not answer is left out
    }
  }
  return out;
}

/** A markdown table with a row per rate and a column per key of what `cells` picks from each row. */
export function rateTable<T extends { rate: number }>(rows: T[], cells: (row: T) => Record<string, number> | undefined): string {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(cells(r) ?? {})))];
  return [
    `| firings/s | ${keys.join(' | ')} |`,
    `|---:|${keys.map(() => '---:').join('|')}|`,
    ...rows.map((r) => `| ${r.rate} | ${keys.map((k) => cells(r)?.[k] ?? '-').join(' | ')} |`),
  ].join('\n');
}

/** The CPU each metered process used over each step's window, as a markdown table. */
export function cpuTable(results: StepResult[]): string {
  return rateTable(results, (r) => r.cpu);
}
