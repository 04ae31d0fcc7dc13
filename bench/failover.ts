/**
 * Failover under load on a local 3-node cluster (TestCluster: a 3-member etcd and three
 * `rota serve` processes on loopback) against one Receiver in this process.
 *
 * K HTTP tasks with cron `* * * * * *` fire every second. On the same cluster, one after the
 * other (the cluster settles in between: 5 whole seconds in a row with every task on time), it
 * runs these scenarios:
 *   kill      SIGKILL the leader, start it again --restart-after seconds later;
 *   worker    SIGKILL a node that does not lead, start it again --restart-after s later;
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
 * --peer adds the same measure for the BullMQ peer (bench/peer-bullmq.ts) after the Rota nodes
 * are stopped: K job schedulers with pattern `* * * * * *` on a Redis this bench starts, one
 * peer-worker.js process; the worker is SIGKILLed and started again --restart-after s later
 * (settle at least 35 s: BullMQ's stalled-job check runs every 30 s).
 *
 *   node dist/bench/failover.js [--tasks 100] [--scenarios kill,worker,graceful,rolling] [--peer]
 *        [--restart-after 3] [--on-time-ms 1000] [--before 5] [--after 10] [--settle 10]
 *        [--create-concurrency 32] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { TestCluster, type RotaProcess } from '../test/support/cluster.js';
import { Receiver, type Hit } from '../test/support/receiver.js';
import { machine, pool, sleep } from './lib/common.js';
import { createTasks } from './lib/api.js';
import { stopOnSignal, waitLeader } from './lib/cluster-watch.js';
import { OutageObserver, type Disruption, type OutageOptions, type Observed, type Outage } from './lib/outage.js';
import { startRedis, startWorker } from './lib/bullmq-peer.js';

const SCENARIOS = ['kill', 'worker', 'graceful', 'rolling'] as const;
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
    /** The firing protocol the nodes speak: 2 (candidates claim at the instant, the default) or 1 (the leader assigns). */
    protocol: { type: 'string', default: '2' },
    /** scheduler.claimLeadMs on every node (protocol 2): how long before the instant the first candidate claims. */
    'claim-lead-ms': { type: 'string', default: '0' },
    peer: { type: 'boolean', default: false },
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
const outageOptions: OutageOptions = { onTimeMs, beforeMs, afterMs, settleMs, log };

interface Row extends Outage {
  scenario: string;
  oldLeader?: string;
  newLeader?: string;
  /** Hits later than onTimeMs, by the run's trigger (Rota only). */
  lateByTrigger?: Record<string, number>;
  /** The same hits by the node that ran them and when the run started (its record's startedMs - the instant, in steps of 250 ms): a late start (a backstop, a late claim) or a late delivery (Rota only). */
  lateByStart?: Record<string, number>;
  /** Missed pairs by what the first attempt's run record says: state, trigger, node, message (Rota only). */
  missedByRun?: Record<string, number>;
}

const rx = await new Receiver().start();
log('starting 3-member etcd + 3 nodes');
const c = await TestCluster.start({ scheduler: values.protocol === '1' ? { candidates: false } : { claimLeadMs: Number(values['claim-lead-ms']) } });
let clusterStopped: Promise<void> | null = null;
/** Once: before the peer runs, and again (a no-op) on the way out. */
const stopCluster = () => (clusterStopped ??= c.stop());
stopOnSignal(async () => {
  await stopCluster();
  await rx.stop();
});
const results: Row[] = [];

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
  ev.readyMs = Date.now() - ev.atMs;
  ev.claimingMs = await firstClaim(n, ev.atMs);
  log(`${n.id} ready after ${ev.readyMs} ms, claiming after ${ev.claimingMs} ms`);
  return ev;
}

/** Ms from `fromMs` until node n has claimed a firing (its /metrics: candidate claims or finished runs), polled every 50 ms for up to 30 s. */
async function firstClaim(n: RotaProcess, fromMs: number): Promise<number> {
  const claimed = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith('rota_candidate_claims_total') || l.startsWith('rota_runs_finished_total'))
      .some((l) => Number(l.split(' ').pop()) > 0);
  while (Date.now() - fromMs < 30_000) {
    const text = await fetch(`${n.url}/metrics`).then((r) => r.text()).catch(() => '');
    if (claimed(text)) return Date.now() - fromMs;
    await sleep(50);
  }
  return NaN;
}

async function disrupt(s: Scenario): Promise<Disruption[]> {
  if (s === 'rolling') {
    const evs: Disruption[] = [];
    for (const n of c.nodes) evs.push(await down(n, 'stop'), await up(n));
    return evs;
  }
  const leader = await c.leader();
  const old = s === 'worker' ? c.nodes.find((n) => n.id !== leader.id)! : leader;
  // The restart is timed from the signal: with the default 3 s a killed node is back while its
  // old lease (5 s) still holds.
  const t0 = Date.now();
  const d = down(old, s === 'graceful' ? 'stop' : 'kill');
  await sleep(t0 + restartAfterMs - Date.now());
  // A graceful stop may still be draining: the node starts again once it has exited.
  const restarted = (async () => {
    while (old.alive) await sleep(50);
    return up(old);
  })();
  return [await d, await restarted];
}

/** Counts hits later than onTimeMs by their run's trigger, and by where and when the run started (at most `max` lookups). */
async function lateRuns(hits: Hit[], max = 3000): Promise<{ byTrigger: Record<string, number>; byStart: Record<string, number> }> {
  const late = hits.filter((h) => h.receivedMs - h.scheduledMs >= onTimeMs);
  const byTrigger: Record<string, number> = {};
  const byStart: Record<string, number> = {};
  await pool(late.slice(0, max), 8, async (h) => {
    const r = await c.api('GET', `/api/v1/runs/${h.runId}`).catch(() => null);
    const k = r?.status === 200 ? String(r.body.trigger) : 'unknown';
    byTrigger[k] = (byTrigger[k] ?? 0) + 1;
    const started = r?.status === 200 && typeof r.body.startedMs === 'number' ? `started +${Math.floor((r.body.startedMs - h.scheduledMs) / 250) * 250} ms on ${r.body.node}` : 'unknown';
    byStart[started] = (byStart[started] ?? 0) + 1;
  });
  if (late.length > max) byTrigger['not looked up'] = byStart['not looked up'] = late.length - max;
  return { byTrigger, byStart };
}

/** Tallies missed pairs by what the first attempt's run record says (at most `max` lookups). */
async function missedRuns(missed: Observed['missed'], max = 300): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await pool(missed.slice(0, max), 8, async (m) => {
    const r = await c.api('GET', `/api/v1/runs/${m.taskId}-${m.scheduledMs}-1`).catch(() => null);
    const b = r?.body;
    const k = r?.status === 200 ? `${b.state} ${b.trigger} on ${b.node ?? '-'}${b.message ? `: ${b.message}` : ''}` : r?.status === 404 ? 'no run record' : 'lookup failed';
    out[k] = (out[k] ?? 0) + 1;
  });
  if (missed.length > max) out['not looked up'] = missed.length - max;
  return out;
}

async function runScenario(observer: OutageObserver, s: Scenario): Promise<Row> {
  let oldLeader = '';
  const { outage, hits, missed } = await observer.observe(s, async () => {
    oldLeader = (await c.leader()).id;
    return disrupt(s);
  });
  const late = await lateRuns(hits);
  const row: Row = { ...outage, scenario: s, oldLeader, newLeader: (await c.leader()).id, lateByTrigger: late.byTrigger, lateByStart: late.byStart, missedByRun: await missedRuns(missed) };
  log(`${s}: late ${JSON.stringify(row.lateByTrigger)} (${JSON.stringify(row.lateByStart)}), missed ${JSON.stringify(row.missedByRun)}`);
  return row;
}

/** The BullMQ peer: K job schedulers, one worker process, SIGKILLed and started again. */
async function peerWorkerKill(): Promise<Row> {
  const redis = await startRedis();
  const qname = `failover-${Date.now().toString(36)}`;
  const url = `${rx.url}/hook`;
  const queue = new Queue(qname, { connection: { host: '127.0.0.1', port: redis.port } });
  let worker = await startWorker(redis.port, qname, url);
  try {
    const pids = Array.from({ length: K }, (_, i) => `fo${i}`);
    await pool(pids, 32, (id) => queue.upsertJobScheduler(id, { pattern: '* * * * * *' }, { name: 'fire', data: {}, opts: { removeOnComplete: true, removeOnFail: 1000 } }));
    const observer = new OutageObserver(rx, pids, { ...outageOptions, settleMs: Math.max(settleMs, 35_000) });
    const { outage } = await observer.observe('bullmq worker kill', async () => {
      const killed: Disruption = { label: 'SIGKILL worker', down: true, atMs: Date.now() };
      await worker.kill();
      await sleep(killed.atMs + restartAfterMs - Date.now());
      const started: Disruption = { label: 'start worker', down: false, atMs: Date.now() };
      worker = await startWorker(redis.port, qname, url);
      log(`worker ready after ${Date.now() - started.atMs} ms`);
      return [killed, started];
    });
    return { ...outage, scenario: 'BullMQ: worker SIGKILL' };
  } finally {
    await worker.stop();
    await queue.close();
    await redis.stop();
  }
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
  if (created.ids.length < K) throw new Error(`only ${created.ids.length} of ${K} tasks created`);
  log(`created ${K} in ${created.elapsedMs} ms`);
  const observer = new OutageObserver(rx, created.ids, outageOptions);
  for (const s of scenarios) results.push(await runScenario(observer, s));
  await stopCluster();
  if (values.peer) results.push(await peerWorkerKill());
} finally {
  await stopCluster();
  await rx.stop();
}

const f = (n: number) => (Number.isFinite(n) ? String(Math.round(n)) : '-');
const tally = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ') || '-';
console.log(`\n### Failover under load: ${K} tasks, cron \`* * * * * *\` (${K} firings/s), local 3-node cluster\n`);
console.log(`Receiver, bench driver, three Rota nodes and three etcd members share this machine's cores${values.peer ? ' (the BullMQ row: Redis and one worker process, Rota stopped)' : ''}. "On time" = received < ${onTimeMs} ms after the scheduled second; a second is complete when all ${K} tasks arrived on time.\n`);
console.log('| scenario | leader before → after | new leader named after ms | firings resume after ms | stalled s | longest silence ms | hits / expected | missed | duplicates | delivered twice | retried | p99 / max late ms | late hits by trigger |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
for (const r of results)
  console.log(
    `| ${r.scenario} | ${r.oldLeader ? `${r.oldLeader} → ${r.newLeader}` : '-'} | ${f(r.leaderKnownMs)} | ${f(r.resumeMs)} | ${r.stalledSeconds} | ${f(r.longestSilenceMs)} | ${r.hits} / ${r.expected} | ${r.missed} | ${r.duplicates} | ${r.deliveredTwice} | ${r.retried} | ${f(r.p99)} / ${f(r.max)} | ${r.lateByTrigger ? tally(r.lateByTrigger) : '-'} |`,
  );
console.log('\nEvents (times from the scenario\'s first event):\n');
console.log('| scenario | event | at ms | new leader named after ms | firings resume after ms | ready after ms | claiming after ms |');
console.log('|---|---|---:|---:|---:|---:|---:|');
for (const r of results)
  for (const e of r.events)
    console.log(`| ${r.scenario} | ${e.label}${e.newLeader ? ` → ${e.newLeader}` : ''} | ${e.atMs - r.events[0]!.atMs} | ${f(e.leaderKnownMs ?? NaN)} | ${f(e.resumeMs ?? NaN)} | ${f(e.readyMs ?? NaN)} | ${f(e.claimingMs ?? NaN)} |`);
if (results.some((r) => r.missed > 0)) {
  console.log('\nMissed (task, second) pairs: when (scheduled second relative to the first event) and what the first attempt\'s run record says:\n');
  console.log('| scenario | missed by second | missed by run record |');
  console.log('|---|---|---|');
  for (const r of results.filter((x) => x.missed > 0)) console.log(`| ${r.scenario} | ${tally(r.missedBySecond)} | ${r.missedByRun ? tally(r.missedByRun) : '-'} |`);
}
const kill = results.find((r) => r.scenario === 'kill');
const rolling = results.find((r) => r.scenario === 'rolling');
console.log('\nTargets:\n');
console.log(`- firings resume within lease TTL (5 s) + 1 s = ${KILL_TARGET_MS} ms after a leader SIGKILL: ${kill ? `${f(kill.resumeMs)} ms, ${kill.resumeMs <= KILL_TARGET_MS ? 'met' : 'missed'}` : 'not run'}`);
console.log(`- 0 missed / 0 duplicates through a rolling restart: ${rolling ? `${rolling.missed} missed / ${rolling.duplicates} duplicates (${rolling.deliveredTwice} delivered twice), ${rolling.missed === 0 && rolling.duplicates === 0 ? 'met' : 'missed'}` : 'not run'}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), tasks: K, onTimeMs, restartAfterMs, beforeMs, afterMs, settleMs, scenarios: results }, null, 2));
process.exit(0);
