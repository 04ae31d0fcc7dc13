/**
 * Firing lateness and correctness under load on a local 3-node cluster (TestCluster: a 3-member
 * etcd and three `rota serve` processes on loopback) against one Receiver in this process.
 *
 * For each rate R (firings/s) it creates R HTTP tasks firing every second, waits for every task
 * to have fired once plus a warm-up, measures a window of --seconds whole seconds, waits a settle
 * period, then reports lateness (received - scheduled), hits vs expected, missed (task, second)
 * pairs and duplicates (the same pair received twice with attempt 1). The step's tasks are
 * deleted before the next step. Afterwards the Rota nodes are stopped and etcd's own write ceiling
 * is measured on the same etcd cluster.
 *
 *   node dist/bench/cluster-load.js [--full] [--rates 100,500] [--seconds 15] [--every]
 *        [--warmup 5] [--settle 5] [--create-concurrency 32] [--no-ceiling] [--json FILE]
 *
 * Default (quick): rates 100,500 for 15 s. --full: 100,500,1000,2000,4000 for 60 s.
 * --every uses {"every":"1s"} (phases spread by creation time) instead of cron `* * * * * *`
 * (all tasks on the second boundary: the hard case).
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { TestCluster } from '../test/support/cluster.js';
import { Receiver } from '../test/support/receiver.js';
import { LOAD_OPTIONS, loadSettings, machine, cpuTable, measureStep, pool, rateTable, sleep, stepTable, type StepResult } from './lib/common.js';
import { measureCeiling, ceilingTable, type CeilingRow } from './lib/etcd-ceiling.js';

const { values } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    'create-concurrency': { type: 'string', default: '32' },
    /** The firing protocol the nodes speak: 2 (candidates claim at the instant, the default) or 1 (the leader assigns). */
    protocol: { type: 'string', default: '2' },
    /** scheduler.claimLeadMs on every node (protocol 2): how long before the instant the first candidate claims. */
    'claim-lead-ms': { type: 'string', default: '0' },
    /** node.capacity on every node: runs in flight a first or middle candidate takes before it passes its turn (default: Rota's, 100). */
    capacity: { type: 'string' },
    'no-ceiling': { type: 'boolean', default: false },
    'ceiling-seconds': { type: 'string', default: '5' },
  },
});
const { rates, seconds, mode, warmupMs, settleMs } = loadSettings(values);
const createConc = Number(values['create-concurrency']);
const schedule = mode === 'cron' ? { cron: '* * * * * *' } : { every: '1s' };

const log = (...a: unknown[]) => console.error(`[cluster-load ${new Date().toISOString().slice(11, 23)}]`, ...a);

const rx = await new Receiver().start();
log('starting 3-member etcd + 3 nodes');
const c = await TestCluster.start({
  scheduler: values.protocol === '1' ? { candidates: false } : { claimLeadMs: Number(values['claim-lead-ms']) },
  ...(values.capacity ? { node: { capacity: Number(values.capacity) } } : {}),
});
const results: StepResult[] = [];
let ceiling: CeilingRow[] = [];
let leaderId = '';
try {
  leaderId = (await c.leader()).id;
  log(`leader ${leaderId}`);
  for (const rate of rates) {
    const stepTag = `s${rate}-${Date.now().toString(36)}`;
    log(`step ${rate}/s: creating ${rate} tasks (${mode})`);
    const t0 = Date.now();
    const ids = await pool(
      Array.from({ length: rate }, (_, i) => i),
      createConc,
      async (i) => {
        const n = c.nodes[i % c.nodes.length]!;
        for (let attempt = 0; ; attempt++) {
          try {
            const r = await n.api('POST', '/api/v1/tasks', { name: `${stepTag}-${i}`, schedule, action: { http: { url: `${rx.url}/hook` } } }, 30_000);
            if (r.status !== 201) throw new Error(`create ${r.status} ${JSON.stringify(r.body)}`);
            return String(r.body.id);
          } catch (e) {
            if (attempt >= 3) throw e;
            await sleep(500);
          }
        }
      },
    );
    log(`created ${ids.length} in ${Date.now() - t0} ms; waiting for each to fire once`);
    const r = await measureStep(
      rx,
      ids,
      {
        rate, seconds, mode, warmupMs, settleMs,
        procs: {
          ...Object.fromEntries(c.nodes.map((n) => [n.id === leaderId ? `${n.id} (leader)` : n.id, n.child?.pid])),
          ...Object.fromEntries(c.etcd.members.map((m, i) => [`etcd e${i + 1}`, m?.child.pid])),
          'bench + receiver': process.pid,
        },
        etcd: c.etcd.endpoints[0],
        nodes: Object.fromEntries(c.nodes.map((n) => [n.id, n.url])),
      },
      log,
    );
    // What the first missed pairs' run records say (a failed callback, a run still going, none).
    if (r.missedPairs?.length) {
      const said = new Map<string, number>();
      for (const m of r.missedPairs.slice(0, 20)) {
        const run = await c.nodes[0]!.api('GET', `/api/v1/runs/${m.taskId}-${m.scheduledMs}-1`, undefined, 10_000).catch(() => null);
        const k = run?.status === 200 ? `${run.body.state}: ${String(run.body.message ?? '').slice(0, 120)}` : `no run record (${run?.status ?? 'no answer'})`;
        said.set(k, (said.get(k) ?? 0) + 1);
      }
      r.notes = [...said].map(([k, n]) => `${n}x ${k}`).join('; ');
      log(`missed pairs' first attempts: ${r.notes}`);
    }
    results.push(r);
    log(`step ${rate}/s: p50 ${r.p50} p99 ${r.p99} max ${r.max} hits ${r.hits}/${r.expected} missed ${r.missed} dup ${r.duplicates}; cpu ${JSON.stringify(r.cpu)}`);
    log(`deleting ${ids.length} tasks`);
    await pool(ids, createConc, async (id, i) => {
      const n = c.nodes[i % c.nodes.length]!;
      await n.api('DELETE', `/api/v1/tasks/${id}`, undefined, 30_000).catch((e) => log(`delete ${id}: ${e}`));
    });
    await sleep(2000);
    rx.hits = [];
  }
  // Nodes off, then etcd's own ceiling on the same members.
  if (!values['no-ceiling']) {
    await Promise.all(c.nodes.map((n) => n.kill()));
    log('measuring etcd ceiling on the same etcd cluster');
    ceiling = await measureCeiling(c.etcd.endpoints, { seconds: Number(values['ceiling-seconds']) });
  }
} finally {
  await c.stop();
  await rx.stop();
}

const cleanRates = results.filter((r) => r.missed === 0 && r.duplicates === 0).map((r) => r.rate);
const bestClean = cleanRates.length ? Math.max(...cleanRates) : 0;
console.log(`\n### Rota, local 3-node cluster (${mode === 'cron' ? 'cron `* * * * * *`, all tasks on the second boundary' : 'every 1s, phases spread by creation time'})\n`);
console.log('Receiver, bench driver, three Rota nodes and three etcd members all share this machine\'s cores.\n');
console.log(stepTable('Rota', results));
console.log('\nCPU over each window (% of one core):\n');
console.log(cpuTable(results));
console.log('\netcd per firing due in each window (member e1\'s counters; every member applies every write):\n');
console.log(rateTable(results, (r) => r.etcd));
if (ceiling.length) {
  console.log('\n### etcd ceiling (same 3-member cluster, Rota nodes stopped)\n');
  console.log(ceilingTable(ceiling, bestClean));
}
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), mode, seconds, leader: leaderId, steps: results, ceiling, bestClean }, null, 2));
process.exit(0);
