/**
 * Failover under load on a local 3-node cluster (TestCluster: a 3-member etcd and three
 * `rota serve` processes on loopback) against one Receiver in this process.
 *
 * K HTTP tasks with cron `* * * * * *` fire every second. On the same cluster, one after the
 * other (the cluster settles in between: 5 whole seconds in a row with every task on time), it
 * runs these scenarios:
 *   kill      SIGKILL the leader, start it again --restart-after seconds later;
 *   graceful  SIGTERM the leader (it drains and exits), start it again --restart-after s later;
 *   rolling   SIGTERM then start each node n1, n2, n3 in turn, waiting for its /readyz 200.
 * For each it reports: how long until the nodes name a new leader (GET /api/v1/cluster), how
 * long until firings resume (a second is complete when every task arrived within --on-time-ms of
 * it; seconds the old leader wrote ahead still complete, so: the first complete second after the
 * first incomplete one within 10 s of the event, minus the event time; 0 if none was incomplete),
 * the seconds after the first event that were not complete, the longest silence at the receiver
 * (no hit from any task), and missed / duplicate (task, second) pairs and lateness over a window
 * from --before s before the first event to --after s after recovery (missed counts what has not
 * arrived --settle s after the window). Hits later than --on-time-ms are looked up
 * (GET /api/v1/runs/{id}) to count them by trigger (schedule, catch-up, retry); missed pairs by
 * second and by what their run record says.
 *
 *   node dist/bench/failover.js [--tasks 100] [--scenarios kill,graceful,rolling]
 *        [--restart-after 3] [--on-time-ms 1000] [--before 5] [--after 10] [--settle 10]
 *        [--create-concurrency 32] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { TestCluster, type RotaProcess } from '../test/support/cluster.js';
import { Receiver, type Hit } from '../test/support/receiver.js';
import { analyze, machine, pool, sleep, type StepResult } from './lib/common.js';
import { createTasks } from './lib/api.js';
import { stopOnSignal, waitLeader } from './lib/cluster-watch.js';

const SCENARIOS = ['kill', 'graceful', 'rolling'] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100' },
    scenarios: { type: 'string', default: SCENARIOS.join(',') },
    'restart-after': { type: 'string', default: '3' },
    'on-time-ms': { type: 'string', default: '1000' },
    before: { type: 'string', default: '5' },
    after: { type: 'string', default: '10' },
    settle: { type: 'string', default: '10' },
    'create-concurrency': { type: 'string', default: '32' },
    json: { type: 'string' },
  },
});
const K = Number(values.tasks);
const scenarios = values.scenarios!.split(',').map((s) => s.trim()) as Scenario[];
for (const s of scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario '${s}' (${SCENARIOS.join(', ')})`);
const restartAfterMs = Number(values['restart-after']) * 1000;
const onTimeMs = Number(values['on-time-ms']);
const beforeMs = Number(values.before) * 1000;
const afterMs = Number(values.after) * 1000;
const settleMs = Number(values.settle) * 1000;
/** Lease TTL (5 s) + 1 s: the target for firings to resume after a leader SIGKILL. */
const KILL_TARGET_MS = 6_000;

const log = (...a: unknown[]) => console.error(`[failover ${new Date().toISOString().slice(11, 23)}]`, ...a);

/** A node going down (kill / stop) or coming back (start), as it happened. */
interface Disruption {
  label: string;
  down: boolean;
  atMs: number;
  /** The node led when it went down: the new leader and how long until a node named it. */
  newLeader?: string;
  leaderKnownMs?: number;
  /**
   * Down events: the first complete second after the first incomplete one in [atMs, atMs + 10 s)
   * (and before the next down event), minus atMs; 0 if none was incomplete.
   */
  resumeMs?: number;
}

interface ScenarioResult extends StepResult {
  scenario: Scenario;
  events: Disruption[];
  oldLeader: string;
  newLeader: string;
  /** Worst over the scenario's leader changes. */
  leaderKnownMs: number;
  /** Worst over the scenario's down events. */
  resumeMs: number;
  /** Seconds from the first event to the window's end at which not every task arrived on time. */
  stalledSeconds: number;
  /** Longest interval without any hit, from the first event to the window's end. */
  longestSilenceMs: number;
  /** (task, second) pairs in the window delivered more than once, whatever the attempt. */
  deliveredTwice: number;
  /** Hits later than onTimeMs, by the run's trigger. */
  lateByTrigger: Record<string, number>;
  /** Missed pairs by scheduled second relative to the first event ("+3" = 3 s after it). */
  missedBySecond: Record<string, number>;
  /** Missed pairs by what the first attempt's run record says (state, trigger, node, message). */
  missedByRun: Record<string, number>;
  windowFromMs: number;
  windowToMs: number;
}

const rx = await new Receiver().start();
log('starting 3-member etcd + 3 nodes');
const c = await TestCluster.start();
stopOnSignal(async () => {
  await c.stop();
  await rx.stop();
});
const results: ScenarioResult[] = [];
let ids: string[] = [];

/** Scheduled seconds in [fromMs, toMs) at which every task arrived within onTimeMs. */
function completeSeconds(hits: Hit[], fromMs: number, toMs: number): Set<number> {
  const want = new Set(ids);
  const per = new Map<number, Set<string>>();
  for (const h of hits) {
    if (!want.has(h.taskId) || h.scheduledMs < fromMs || h.scheduledMs >= toMs || h.receivedMs - h.scheduledMs >= onTimeMs) continue;
    let s = per.get(h.scheduledMs);
    if (!s) per.set(h.scheduledMs, (s = new Set()));
    s.add(h.taskId);
  }
  return new Set([...per].filter(([, s]) => s.size === want.size).map(([t]) => t));
}

/** Waits until `n` whole seconds in a row were complete, at or after `fromMs`; answers the first of them. */
async function waitSteady(n: number, fromMs: number, timeoutMs = 120_000): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const done = completeSeconds(rx.hits, fromMs, Date.now());
    let run = 0;
    for (let t = Math.ceil(fromMs / 1000) * 1000; t < Date.now(); t += 1000) {
      run = done.has(t) ? run + 1 : 0;
      if (run >= n) return t - (n - 1) * 1000;
    }
    await sleep(250);
  }
  return null;
}

/** Takes node n down (SIGKILL or SIGTERM); if it led, also waits for the nodes to name another. */
async function down(n: RotaProcess, how: 'kill' | 'stop'): Promise<Disruption> {
  const wasLeader = (await c.leader()).id === n.id;
  const ev: Disruption = { label: `${how === 'kill' ? 'SIGKILL' : 'SIGTERM'} ${n.id}${wasLeader ? ' (leader)' : ''}`, down: true, atMs: Date.now() };
  const next = wasLeader ? waitLeader(c, n.id) : null;
  await (how === 'kill' ? n.kill() : n.stop());
  const l = next ? await next : null;
  if (l) Object.assign(ev, { newLeader: l.leader.id, leaderKnownMs: l.seenMs - ev.atMs });
  log(`${ev.label}: ${l ? `${l.leader.id} leads after ${ev.leaderKnownMs} ms` : wasLeader ? 'no new leader within 60 s' : 'done'}`);
  return ev;
}

async function up(n: RotaProcess): Promise<Disruption> {
  const ev: Disruption = { label: `start ${n.id}`, down: false, atMs: Date.now() };
  await n.start();
  log(`${n.id} ready after ${Date.now() - ev.atMs} ms`);
  return ev;
}

async function disrupt(s: Scenario): Promise<Disruption[]> {
  if (s === 'rolling') {
    const evs: Disruption[] = [];
    for (const n of c.nodes) evs.push(await down(n, 'stop'), await up(n));
    return evs;
  }
  const old = await c.leader();
  // The restart is timed from the signal: with the default 3 s a killed node is back while its
  // old lease (5 s) still holds.
  const t0 = Date.now();
  const d = down(old, s === 'kill' ? 'kill' : 'stop');
  await sleep(t0 + restartAfterMs - Date.now());
  // A graceful stop may still be draining: the node starts again once it has exited.
  const restarted = (async () => {
    while (old.alive) await sleep(50);
    return up(old);
  })();
  return [await d, await restarted];
}

/** Counts hits later than onTimeMs by their run's trigger (at most `max` lookups). */
async function lateTriggers(hits: Hit[], max = 3000): Promise<Record<string, number>> {
  const late = hits.filter((h) => h.receivedMs - h.scheduledMs >= onTimeMs);
  const out: Record<string, number> = {};
  await pool(late.slice(0, max), 8, async (h) => {
    const r = await c.api('GET', `/api/v1/runs/${h.runId}`).catch(() => null);
    const k = r?.status === 200 ? String(r.body.trigger) : 'unknown';
    out[k] = (out[k] ?? 0) + 1;
  });
  if (late.length > max) out['not looked up'] = late.length - max;
  return out;
}

/** The (task, second) pairs of [fromMs, toMs) nobody received, tallied by second and by run record. */
async function missedPairs(hits: Hit[], fromMs: number, toMs: number, eventMs: number, max = 300): Promise<Pick<ScenarioResult, 'missedBySecond' | 'missedByRun'>> {
  const got = new Set(hits.map((h) => `${h.taskId}-${h.scheduledMs}`));
  const missed: { taskId: string; t: number }[] = [];
  for (const id of ids) for (let t = Math.ceil(fromMs / 1000) * 1000; t < toMs; t += 1000) if (!got.has(`${id}-${t}`)) missed.push({ taskId: id, t });
  const bySecond: Record<string, number> = {};
  const byRun: Record<string, number> = {};
  for (const m of missed) {
    const k = Math.floor((m.t - eventMs) / 1000);
    bySecond[k < 0 ? String(k) : `+${k}`] = (bySecond[k < 0 ? String(k) : `+${k}`] ?? 0) + 1;
  }
  await pool(missed.slice(0, max), 8, async (m) => {
    const r = await c.api('GET', `/api/v1/runs/${m.taskId}-${m.t}-1`).catch(() => null);
    const b = r?.body;
    const k = r?.status === 200 ? `${b.state} ${b.trigger} on ${b.node ?? '-'}${b.message ? `: ${b.message}` : ''}` : r?.status === 404 ? 'no run record' : 'lookup failed';
    byRun[k] = (byRun[k] ?? 0) + 1;
  });
  if (missed.length > max) byRun['not looked up'] = missed.length - max;
  return { missedBySecond: bySecond, missedByRun: byRun };
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  rx.hits = [];
  const clearedMs = Date.now();
  const steadyN = Math.max(5, Math.ceil(beforeMs / 1000) + 1);
  log(`${s}: waiting for ${steadyN} s in a row with all ${K} tasks on time`);
  const steadyFrom = await waitSteady(steadyN, clearedMs);
  if (steadyFrom === null) log(`${s}: not steady after 120 s; going on`);
  const oldLeader = (await c.leader()).id;
  const events = await disrupt(s);
  const newLeader = (await c.leader()).id;
  const firstMs = events[0]!.atMs;
  const lastMs = events[events.length - 1]!.atMs;
  log(`${s}: disrupted for ${Date.now() - firstMs} ms; waiting for an on-time second`);
  const resumedAt = (await waitSteady(1, lastMs, 60_000)) ?? Date.now();
  // Not before the hits were cleared (nor before the steady run, so the window opens with a clean second).
  const windowFromMs = Math.max(Math.floor((firstMs - beforeMs) / 1000) * 1000, steadyFrom ?? Math.ceil(clearedMs / 1000) * 1000);
  const windowToMs = Math.ceil((Math.max(resumedAt, Date.now()) + afterMs) / 1000) * 1000;
  await sleep(windowToMs + settleMs - Date.now());
  const hits = rx.hits.filter((h) => h.scheduledMs >= windowFromMs && h.scheduledMs < windowToMs);
  const base = analyze(hits, ids, windowFromMs, windowToMs, { rate: K, tasks: K, seconds: (windowToMs - windowFromMs) / 1000, mode: 'cron' });
  const done = completeSeconds(hits, windowFromMs, windowToMs);
  const downs = events.filter((x) => x.down);
  downs.forEach((e, i) => {
    // Seconds written ahead before the event still run: the gap starts at the first incomplete
    // one within 10 s of the event (and before the next).
    const until = Math.min(downs[i + 1]?.atMs ?? windowToMs, e.atMs + 10_000);
    let t = Math.ceil(e.atMs / 1000) * 1000;
    while (t < until && done.has(t)) t += 1000;
    if (t >= until) return void (e.resumeMs = 0);
    while (t < windowToMs && !done.has(t)) t += 1000;
    e.resumeMs = t < windowToMs ? t - e.atMs : NaN;
  });
  let stalledSeconds = 0;
  for (let t = Math.ceil(firstMs / 1000) * 1000; t < windowToMs; t += 1000) if (!done.has(t)) stalledSeconds++;
  const arrivals = rx.hits.filter((h) => h.receivedMs >= firstMs && h.receivedMs < windowToMs).map((h) => h.receivedMs);
  arrivals.sort((a, b) => a - b);
  let longestSilenceMs = 0;
  [firstMs, ...arrivals, windowToMs].reduce((prev, t) => ((longestSilenceMs = Math.max(longestSilenceMs, t - prev)), t));
  const pairs = new Map<string, number>();
  for (const h of hits) pairs.set(`${h.taskId}@${h.scheduledMs}`, (pairs.get(`${h.taskId}@${h.scheduledMs}`) ?? 0) + 1);
  const worst = (xs: (number | undefined)[]) => {
    const v = xs.filter((x): x is number => x !== undefined);
    return v.length ? Math.max(...v) : NaN;
  };
  const r: ScenarioResult = {
    ...base,
    scenario: s,
    events,
    oldLeader,
    newLeader,
    leaderKnownMs: worst(events.map((e) => e.leaderKnownMs)),
    resumeMs: worst(events.map((e) => e.resumeMs)),
    stalledSeconds,
    longestSilenceMs,
    deliveredTwice: [...pairs.values()].filter((n) => n > 1).length,
    lateByTrigger: await lateTriggers(hits),
    ...(await missedPairs(hits, windowFromMs, windowToMs, firstMs)),
    windowFromMs,
    windowToMs,
  };
  log(`${s}: resume ${r.resumeMs} ms, stalled ${stalledSeconds} s, missed ${r.missed} ${JSON.stringify(r.missedBySecond)} ${JSON.stringify(r.missedByRun)}, dup ${r.duplicates}, late ${JSON.stringify(r.lateByTrigger)}`);
  return r;
}

try {
  log(`creating ${K} tasks (cron * * * * * *)`);
  const tag = Date.now().toString(36);
  const created = await createTasks(
    K,
    Number(values['create-concurrency']),
    (i) => c.nodes[i % c.nodes.length]!.url,
    (i) => ({ name: `fo-${tag}-${i}`, schedule: { cron: '* * * * * *' }, action: { http: { url: `${rx.url}/hook` } } }),
    log,
  );
  ids = created.ids;
  if (ids.length < K) throw new Error(`only ${ids.length} of ${K} tasks created`);
  log(`created ${K} in ${created.elapsedMs} ms`);
  for (const s of scenarios) results.push(await runScenario(s));
} finally {
  await c.stop();
  await rx.stop();
}

const f = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '-');
const tally = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || '-';
console.log(`\n### Failover under load: ${K} tasks, cron \`* * * * * *\` (${K} firings/s), local 3-node cluster\n`);
console.log(`Receiver, bench driver, three Rota nodes and three etcd members share this machine's cores. "On time" = received < ${onTimeMs} ms after the scheduled second; a second is complete when all ${K} tasks arrived on time.\n`);
console.log('| scenario | leader before → after | new leader named after ms | firings resume after ms | stalled s | longest silence ms | hits / expected | missed | duplicates | delivered twice | retried | p99 / max late ms | late hits by trigger |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of results)
  console.log(
    `| ${r.scenario} | ${r.oldLeader} → ${r.newLeader} | ${f(r.leaderKnownMs)} | ${f(r.resumeMs)} | ${r.stalledSeconds} | ${f(r.longestSilenceMs)} | ${r.hits} / ${r.expected} | ${r.missed} | ${r.duplicates} | ${r.deliveredTwice} | ${r.retried} | ${f(r.p99)} / ${f(r.max)} | ${tally(r.lateByTrigger)} |`,
  );
console.log('\nEvents (times from the scenario\'s first event):\n');
console.log('| scenario | event | at ms | new leader named after ms | firings resume after ms |');
console.log('|---|---|---:|---:|---:|');
for (const r of results) for (const e of r.events) console.log(`| ${r.scenario} | ${e.label}${e.newLeader ? ` → ${e.newLeader}` : ''} | ${e.atMs - r.events[0]!.atMs} | ${f(e.leaderKnownMs ?? NaN)} | ${f(e.resumeMs ?? NaN)} |`);
if (results.some((r) => r.missed > 0)) {
  console.log('\nMissed (task, second) pairs: when (scheduled second relative to the first event) and what the first attempt\'s run record says:\n');
  console.log('| scenario | missed by second | missed by run record |');
  console.log('|---|---|---|');
  for (const r of results.filter((x) => x.missed > 0)) console.log(`| ${r.scenario} | ${tally(r.missedBySecond)} | ${tally(r.missedByRun)} |`);
}
const kill = results.find((r) => r.scenario === 'kill');
const rolling = results.find((r) => r.scenario === 'rolling');
console.log('\nTargets:\n');
console.log(`- firings resume within lease TTL (5 s) + 1 s = ${KILL_TARGET_MS} ms after a leader SIGKILL: ${kill ? `${f(kill.resumeMs)} ms, ${kill.resumeMs <= KILL_TARGET_MS ? 'met' : 'missed'}` : 'not run'}`);
console.log(`- 0 missed / 0 duplicates through a rolling restart: ${rolling ? `${rolling.missed} missed / ${rolling.duplicates} duplicates (${rolling.deliveredTwice} delivered twice), ${rolling.missed === 0 && rolling.duplicates === 0 ? 'met' : 'missed'}` : 'not run'}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), tasks: K, onTimeMs, restartAfterMs, beforeMs, afterMs, settleMs, scenarios: results }, null, 2));
process.exit(0);
