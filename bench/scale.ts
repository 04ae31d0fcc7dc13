/**
 * Scale: many task definitions on a local 3-node cluster (TestCluster: a 3-member etcd and three
 * `rota serve` processes on loopback) behind HAProxy (round robin over the nodes whose /readyz
 * answers 200, as cluster/local/haproxy.cfg; on a free loopback port), with one Receiver in
 * this process.
 *
 * For each count N (ascending, on the same cluster: each step adds to the last) it seeds tasks
 * through the load balancer up to N (cron `0 0 1 1 *`, HTTP to the receiver: defined, planned,
 * never due during the run) with --create-concurrency requests in flight, reporting creates/s
 * and create latency. One probe task (cron `* * * * * *`, HTTP to the receiver) fires every
 * second throughout. Then it measures:
 *   - RSS (VmRSS) of each node and each etcd member, the leader marked;
 *   - API latency through the load balancer: --reads GET /api/v1/tasks/{id} of random seeded
 *     ids and --creates POST /api/v1/tasks, --api-concurrency in flight;
 *   - API latency at 1 in flight too (--reads / 10 reads): the service time without queueing;
 *   - failover at that size: SIGKILL the leader; the time until the nodes name a new leader,
 *     until the new leader logs 'elected leader' and 'leader view synced; scheduling' (its log's
 *     pino time), and until the probe is scheduling again: firings the old leader had written
 *     ahead still run, so the gap starts at the first probe second at or after the kill that was
 *     not received on time (< 1 s late); reported are when the probe is scheduling again (the
 *     first catch-up of a second from the gap on, or on time again if earlier) and when it is on
 *     time again (three seconds in a row). Also the new leader's RSS
 *     2 s after its view synced and --settle seconds after it (and every node's RSS --settle s after
 *     the API calls: V8 gives back what a burst grew its heap to only after a while). The killed
 *     node is started again before the next step.
 * The --creates tasks stay, so a step holds N + the creates of earlier steps + the probe.
 *
 *   node dist/bench/scale.js [--counts 2000] [--create-concurrency 64] [--reads 2000]
 *        [--creates 500] [--api-concurrency 16] [--settle 60] [--json FILE]
 *   node dist/bench/scale.js --counts 10000,100000 --json bench/results/scale.json   # full
 *
 * Needs haproxy on PATH (`make haproxy-bin`).
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { TestCluster } from '../test/support/cluster.js';
import { Receiver, type Hit } from '../test/support/receiver.js';
import { cpuMeter, machine, sleep } from './lib/common.js';
import { apiCall, createTasks, timeCalls, type LatencyRow } from './lib/api.js';
import { startHaproxy } from '../test/support/haproxy.js';
import { logLineMs, rssMB, stopOnSignal, waitLeader } from './lib/cluster-watch.js';

const { values } = parseArgs({
  options: {
    counts: { type: 'string', default: '2000' },
    'create-concurrency': { type: 'string', default: '64' },
    reads: { type: 'string', default: '2000' },
    creates: { type: 'string', default: '500' },
    'api-concurrency': { type: 'string', default: '16' },
    settle: { type: 'string', default: '60' },
    json: { type: 'string' },
  },
});
const counts = values.counts!.split(',').map((x) => Number(x.trim())).filter((n) => n > 0).sort((a, b) => a - b);
const createConc = Number(values['create-concurrency']);
const nReads = Number(values.reads);
const nCreates = Number(values.creates);
const apiConc = Number(values['api-concurrency']);
/** Seconds before RSS is sampled again: V8 gives back what a burst grew its heap to only after a while. */
const settleMs = Number(values.settle) * 1000;
/** Targets (../shared/design.md). */
const TARGET = { schedulingMs: 10_000, rssMB: 300, readP99Ms: 50 };
const SYNCED = 'leader view synced; scheduling';

const log = (...a: unknown[]) => console.error(`[scale ${new Date().toISOString().slice(11, 23)}]`, ...a);

interface Step {
  /** Task definitions stored when measured (seeded + earlier steps' creates + the probe). */
  tasks: number;
  seed: { created: number; perSec: number; latency: LatencyRow };
  leader: string;
  rssMB: Record<string, number>;
  /** RSS of the nodes again, --settle seconds after the API calls. */
  rssSettledMB: Record<string, number>;
  reads: LatencyRow;
  /** % of one core per process during the concurrent reads. */
  readCpu: Record<string, number>;
  /** The same reads one at a time. */
  reads1: LatencyRow;
  creates: LatencyRow;
  failover: {
    killed: string;
    newLeader?: string;
    /** All from the SIGKILL, in ms. */
    leaderNamedMs?: number;
    electedMs?: number;
    syncedMs?: number;
    /** The first probe second the old leader had not written ahead. */
    probeGapMs?: number;
    probeReceivedMs?: number;
    probeOnTimeMs?: number;
    newLeaderRssMB?: number;
    /** The same --settle seconds after its sync. */
    newLeaderRssSettledMB?: number;
  };
}

const rx = await new Receiver().start();
log('starting 3-member etcd + 3 nodes + haproxy');
const c = await TestCluster.start();
const lb = await startHaproxy(c.nodes.map((n) => ({ id: n.id, port: n.port }))).catch(async (err: Error) => {
  // Nothing left running behind a failed start (a missing haproxy used to leave the cluster up).
  await c.stop();
  await rx.stop();
  throw err;
});
stopOnSignal(async () => {
  await lb.stop();
  await c.stop();
  await rx.stop();
});
const tag = Date.now().toString(36);
const rare = (name: string) => ({ name, schedule: { cron: '0 0 1 1 *', tz: 'UTC' }, action: { http: { url: `${rx.url}/seed` } } });
const steps: Step[] = [];

/** The first probe hit scheduled after `afterMs` and received less than 1 s after its time. */
async function probeOnTime(probeId: string, afterMs: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const h = rx.hits.find((x) => x.taskId === probeId && x.scheduledMs > afterMs && x.receivedMs - x.scheduledMs < 1000);
    if (h) return h.receivedMs;
    await sleep(50);
  }
  return undefined;
}

/**
 * The probe after a kill at killMs. Firings the old leader wrote ahead still run on time (and
 * one that the killed node had claimed is lost), so the gap starts at the first probe second at
 * or after the kill that was not received on time. The probe is on time again at the first
 * second from which three seconds in a row arrived on time; it is scheduling again at the
 * earlier of that and the first late arrival of a second from the gap on (a catch-up only a new
 * leader can have planned). No gap within 30 s: no interruption (all three = killMs).
 */
async function probeAfterKill(probeId: string, killMs: number, timeoutMs: number): Promise<{ gapMs?: number; receivedMs?: number; onTimeMs?: number }> {
  const deadline = Date.now() + timeoutMs;
  let gap: number | undefined;
  while (Date.now() < deadline) {
    const hs = rx.hits.filter((h) => h.taskId === probeId && h.scheduledMs >= killMs);
    const isOnTime = (h: Hit) => h.receivedMs - h.scheduledMs < 1000;
    const onTime = new Map(hs.filter(isOnTime).map((h) => [h.scheduledMs, h.receivedMs] as const));
    for (let t = Math.ceil(killMs / 1000) * 1000; gap === undefined && t + 1000 <= Date.now(); t += 1000) if (!onTime.has(t)) gap = t;
    if (gap === undefined && Date.now() > killMs + 30_000) return { gapMs: killMs, receivedMs: killMs, onTimeMs: killMs };
    if (gap !== undefined) {
      const threeInARow = [...onTime.keys()].filter((t) => t > gap! && onTime.has(t + 1000) && onTime.has(t + 2000)).sort((a, b) => a - b)[0];
      if (threeInARow !== undefined) {
        const onTimeMs = onTime.get(threeInARow)!;
        const caughtUp = hs.filter((h) => h.scheduledMs >= gap! && !isOnTime(h)).map((h) => h.receivedMs);
        return { gapMs: gap, receivedMs: Math.min(onTimeMs, ...caughtUp), onTimeMs };
      }
    }
    await sleep(50);
  }
  return { gapMs: gap };
}

async function failover(probeId: string): Promise<Step['failover']> {
  const old = await c.leader();
  const killMs = Date.now();
  const named = waitLeader(c, old.id, 180_000);
  await old.kill();
  log(`SIGKILL ${old.id} (leader)`);
  const probe = await probeAfterKill(probeId, killMs, 240_000);
  const l = await named;
  const out: Step['failover'] = { killed: old.id };
  if (l) {
    let synced = logLineMs(l.leader.logFile, SYNCED, killMs);
    for (const until = Date.now() + 60_000; synced === undefined && Date.now() < until; synced = logLineMs(l.leader.logFile, SYNCED, killMs)) await sleep(100);
    if (synced !== undefined) await sleep(synced + 2000 - Date.now());
    Object.assign(out, {
      newLeader: l.leader.id,
      leaderNamedMs: l.seenMs - killMs,
      electedMs: (logLineMs(l.leader.logFile, 'elected leader', killMs) ?? NaN) - killMs,
      syncedMs: (synced ?? NaN) - killMs,
      newLeaderRssMB: rssMB(l.leader.child?.pid),
    });
    if (synced !== undefined) {
      await sleep(synced + settleMs - Date.now());
      out.newLeaderRssSettledMB = rssMB(l.leader.child?.pid);
    }
  }
  Object.assign(out, { probeGapMs: (probe.gapMs ?? NaN) - killMs, probeReceivedMs: (probe.receivedMs ?? NaN) - killMs, probeOnTimeMs: (probe.onTimeMs ?? NaN) - killMs });
  log(`failover: ${JSON.stringify(out)}; starting ${old.id} again`);
  await old.start();
  return out;
}

try {
  let seeded: string[] = [];
  let extra = 0;
  let probeId = '';
  for (const n of counts) {
    const need = Math.max(0, n - seeded.length);
    log(`seeding ${need} tasks through the load balancer (${createConc} in flight)`);
    const base = seeded.length;
    const seed = await createTasks(need, createConc, () => lb.url, (i) => rare(`seed-${tag}-${base + i}`), log);
    seeded = seeded.concat(seed.ids);
    const perSec = (1000 * seed.ids.length) / Math.max(1, seed.elapsedMs);
    log(`seeded ${seed.ids.length} in ${seed.elapsedMs} ms (${perSec.toFixed(1)}/s)`);
    if (!probeId) {
      const r = await apiCall(lb.url, 'POST', '/api/v1/tasks', { name: `probe-${tag}`, schedule: { cron: '* * * * * *' }, action: { http: { url: `${rx.url}/probe` } } });
      if (r.status !== 201) throw new Error(`probe create ${r.status} ${JSON.stringify(r.body)}`);
      probeId = String(r.body.id);
    }
    if ((await probeOnTime(probeId, Date.now(), 60_000)) === undefined) log('probe not on time within 60 s; measuring anyway');
    const leader = (await c.leader()).id;
    const rss: Record<string, number> = {};
    for (const node of c.nodes) rss[node.id] = rssMB(node.child?.pid);
    c.etcd.members.forEach((m, i) => (rss[`e${i + 1}`] = rssMB(m?.child.pid)));
    log(`leader ${leader}; RSS MB ${JSON.stringify(rss)}`);
    const meter = cpuMeter({
      ...Object.fromEntries(c.nodes.map((x) => [x.id, x.child?.pid])),
      ...Object.fromEntries(c.etcd.members.map((m, i) => [`e${i + 1}`, m?.child.pid])),
      haproxy: lb.child.pid,
      'bench + receiver': process.pid,
    });
    const reads = await timeCalls(nReads, apiConc, async () => (await apiCall(lb.url, 'GET', `/api/v1/tasks/${seeded[Math.floor(Math.random() * seeded.length)]}`)).status === 200);
    const readCpu = meter.stop();
    const reads1 = await timeCalls(Math.ceil(nReads / 10), 1, async () => (await apiCall(lb.url, 'GET', `/api/v1/tasks/${seeded[Math.floor(Math.random() * seeded.length)]}`)).status === 200);
    log(`reads: ${JSON.stringify(reads)}; one in flight: ${JSON.stringify(reads1)}`);
    const creates = await timeCalls(nCreates, apiConc, async (i) => (await apiCall(lb.url, 'POST', '/api/v1/tasks', rare(`extra-${tag}-${n}-${i}`), 30_000)).status === 201);
    log(`creates: ${JSON.stringify(creates)}; RSS again in ${settleMs / 1000} s`);
    await sleep(settleMs);
    const rssSettled = Object.fromEntries(c.nodes.map((node) => [node.id, rssMB(node.child?.pid)]));
    log(`RSS MB settled ${JSON.stringify(rssSettled)}`);
    const tasks = seeded.length + extra + 1;
    extra += creates.calls - creates.errors;
    steps.push({ tasks, seed: { created: seed.ids.length, perSec, latency: seed.latency }, leader, rssMB: rss, rssSettledMB: rssSettled, reads, readCpu, reads1, creates, failover: await failover(probeId) });
  }
} finally {
  await lb.stop();
  await c.stop();
  await rx.stop();
}

const f = (n: number | undefined, digits = 0) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : '-');
const lat = (l: LatencyRow) => `${f(l.p50, 1)} / ${f(l.p99, 1)} / ${f(l.max)}`;
console.log('\n### Scale: task definitions on a local 3-node cluster behind HAProxy\n');
console.log('Seeded tasks: cron `0 0 1 1 *` (never due during the run), created through the load balancer. Driver, receiver, HAProxy, three Rota nodes and three etcd members share this machine\'s cores.\n');
console.log(`**Seeding** (${createConc} creates in flight)\n`);
console.log('| tasks after | created | creates/s | create p50 / p99 / max ms | errors |');
console.log('|---:|---:|---:|---:|---:|');
for (const s of steps) console.log(`| ${s.tasks} | ${s.seed.created} | ${f(s.seed.perSec, 1)} | ${lat(s.seed.latency)} | ${s.seed.latency.errors} |`);
const names = [...new Set(steps.flatMap((s) => Object.keys(s.rssMB)))];
console.log('\n**Memory** (RSS, MB; * = leader)\n');
console.log(`| tasks | ${names.join(' | ')} |`);
console.log(`|---:|${names.map(() => '---:').join('|')}|`);
for (const s of steps) console.log(`| ${s.tasks} | ${names.map((k) => `${f(s.rssMB[k])}${k in s.rssSettledMB ? ` (${f(s.rssSettledMB[k])})` : ''}${k === s.leader ? '*' : ''}`).join(' | ')} |`);
console.log(`\n(in brackets: the same node ${settleMs / 1000} s after the API calls)`);
console.log(`\n**API through the load balancer** (${apiConc} in flight; p50 / p99 / max ms)\n`);
console.log('| tasks | GET /api/v1/tasks/{id} | reads/s | errors | GET, 1 in flight | POST /api/v1/tasks | creates/s | errors |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const s of steps) console.log(`| ${s.tasks} | ${lat(s.reads)} | ${f(s.reads.perSec)} | ${s.reads.errors} | ${lat(s.reads1)} | ${lat(s.creates)} | ${f(s.creates.perSec, 1)} | ${s.creates.errors} |`);
const cpuNames = [...new Set(steps.flatMap((s) => Object.keys(s.readCpu)))];
console.log(`\nCPU during the ${apiConc}-in-flight reads (% of one core; * = leader):\n`);
console.log(`| tasks | ${cpuNames.join(' | ')} |`);
console.log(`|---:|${cpuNames.map(() => '---:').join('|')}|`);
for (const s of steps) console.log(`| ${s.tasks} | ${cpuNames.map((k) => `${s.readCpu[k] ?? '-'}${k === s.leader ? '*' : ''}`).join(' | ')} |`);
console.log('\n**Leader SIGKILL** (ms from the kill)\n');
console.log(`| tasks | killed → new | new leader named | \'elected leader\' logged | \'leader view synced; scheduling\' logged | probe gap from | probe received again | probe on time again | new leader RSS MB 2 s / ${settleMs / 1000} s after sync |`);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const s of steps) {
  const x = s.failover;
  console.log(`| ${s.tasks} | ${x.killed} → ${x.newLeader ?? '?'} | ${f(x.leaderNamedMs)} | ${f(x.electedMs)} | ${f(x.syncedMs)} | ${f(x.probeGapMs)} | ${f(x.probeReceivedMs)} | ${f(x.probeOnTimeMs)} | ${f(x.newLeaderRssMB)} / ${f(x.newLeaderRssSettledMB)} |`);
}
const last = steps[steps.length - 1];
const maxRss = last ? Math.max(...c.nodes.map((n) => last.rssSettledMB[n.id] ?? NaN), last.failover.newLeaderRssSettledMB ?? NaN) : NaN;
console.log('\nTargets (at the largest count measured here' + (last ? `, ${last.tasks} tasks` : '') + '):\n');
console.log(`- a new leader is scheduling within ${TARGET.schedulingMs} ms of a leader SIGKILL with 100k tasks: probe received again after ${f(last?.failover.probeReceivedMs)} ms`);
console.log(`- under ${TARGET.rssMB} MB RSS per node: largest node RSS ${f(maxRss)} MB, ${settleMs / 1000} s after the API calls or a new leader's sync`);
console.log(`- API p99 < ${TARGET.readP99Ms} ms for single-task reads through the load balancer: ${f(last?.reads.p99, 1)} ms`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), createConcurrency: createConc, apiConcurrency: apiConc, steps }, null, 2));
process.exit(0);
