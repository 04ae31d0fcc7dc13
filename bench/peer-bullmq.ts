/**
 * The peer: BullMQ job schedulers on a Redis this bench starts itself (loopback, no persistence,
 * `--hz 100` by default), running the same workload as cluster-load.js: for each rate R, R job
 * schedulers with cron `* * * * * *` (or `every: 1000` with --every), worker process(es) that POST
 * each job to a Receiver with X-Rota-Task-Id = scheduler id and X-Rota-Scheduled-At = the
 * scheduled ms from the job id. Same window, settle, lateness / missed / duplicate math.
 *
 *   node dist/bench/peer-bullmq.js [--full] [--rates 100,500] [--seconds 15] [--every]
 *        [--hz 100] [--workers 1] [--concurrency 50] [--warmup 5] [--settle 5]
 *        [--rota cluster.json] [--json FILE]
 *
 * --rota FILE (the JSON of cluster-load.js) prints both side by side with peer/Rota ratios.
 */
import { parseArgs } from 'node:util';
import { spawn, fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort } from '../src/store/etcd-process.js';
import { Receiver } from '../test/support/receiver.js';
import { LOAD_OPTIONS, loadSettings, machine, cpuTable, measureStep, pool, sideBySide, sleep, stepTable, type StepResult } from './lib/common.js';

const { values } = parseArgs({
  options: {
    ...LOAD_OPTIONS,
    hz: { type: 'string', default: '100' },
    workers: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '50' },
    rota: { type: 'string' },
  },
});
const { rates, seconds, mode, warmupMs, settleMs } = loadSettings(values);
const nWorkers = Number(values.workers);
const hz = Number(values.hz);
const log = (...a: unknown[]) => console.error(`[peer-bullmq ${new Date().toISOString().slice(11, 23)}]`, ...a);

const port = await freePort();
log(`starting redis-server on 127.0.0.1:${port} (hz ${hz})`);
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--hz', String(hz), '--daemonize', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] });
process.on('exit', () => redis.exitCode === null && redis.kill('SIGKILL'));
let probe!: Redis;
for (let i = 0; ; i++) {
  const r = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 1 });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    probe = r;
    break;
  } catch {
    r.disconnect();
    if (i > 100) throw new Error('redis did not start');
    await sleep(100);
  }
}
const redisVersion = ((await probe.info('server')).match(/redis_version:(\S+)/) ?? [])[1];

const rx = await new Receiver().start();
const workerJs = fileURLToPath(new URL('./peer-worker.js', import.meta.url));
const results: StepResult[] = [];
try {
  for (const rate of rates) {
    const qname = `bench-${rate}-${Date.now().toString(36)}`;
    const workers: ChildProcess[] = [];
    for (let w = 0; w < nWorkers; w++) {
      const child = fork(workerJs, ['--redis-port', String(port), '--queue', qname, '--url', `${rx.url}/hook`, '--concurrency', values.concurrency!], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      await new Promise<void>((r, j) => {
        child.once('message', () => r());
        child.once('exit', (code) => j(new Error(`worker exited ${code}`)));
      });
      workers.push(child);
    }
    const queue = new Queue(qname, { connection: { host: '127.0.0.1', port } });
    log(`step ${rate}/s: creating ${rate} job schedulers (${mode})`);
    const t0 = Date.now();
    const ids = Array.from({ length: rate }, (_, i) => `r${rate}x${i}`);
    await pool(ids, 32, (id) => queue.upsertJobScheduler(id, mode === 'cron' ? { pattern: '* * * * * *' } : { every: 1000 }, { name: 'fire', data: {}, opts: { removeOnComplete: true, removeOnFail: 1000 } }));
    log(`created ${ids.length} in ${Date.now() - t0} ms; waiting for each to fire once`);
    const procs = { redis: redis.pid, ...Object.fromEntries(workers.map((w, i) => [`worker ${i + 1}`, w.pid])), 'bench + receiver': process.pid };
    const r = await measureStep(rx, ids, { rate, seconds, mode, warmupMs, settleMs, procs }, log);
    results.push(r);
    log(`step ${rate}/s: p50 ${r.p50} p99 ${r.p99} max ${r.max} hits ${r.hits}/${r.expected} missed ${r.missed} dup ${r.duplicates}; cpu ${JSON.stringify(r.cpu)}`);
    await pool(ids, 32, (id) => queue.removeJobScheduler(id));
    await Promise.all(workers.map((w) => new Promise<void>((res) => (w.once('exit', () => res()), w.kill('SIGTERM')))));
    await queue.obliterate({ force: true }).catch((e) => log(`obliterate: ${e}`));
    await queue.close();
    rx.hits = [];
  }
} finally {
  probe.disconnect();
  await rx.stop();
  await new Promise<void>((r) => (redis.exitCode !== null ? r() : (redis.once('exit', () => r()), redis.kill('SIGTERM'))));
  log('redis stopped');
}

console.log(`\n### BullMQ ${JSON.parse(readFileSync(new URL('../../node_modules/bullmq/package.json', import.meta.url), 'utf8')).version} job schedulers on Redis ${redisVersion} (hz ${hz}), ${nWorkers} worker process(es) x concurrency ${values.concurrency} (${mode === 'cron' ? 'cron `* * * * * *`, all on the second boundary' : 'every 1000 ms, phases spread by creation time'})\n`);
console.log(stepTable('BullMQ', results));
console.log('\nCPU over each window (% of one core):\n');
console.log(cpuTable(results));
if (values.rota) {
  const rota = JSON.parse(readFileSync(values.rota, 'utf8')) as { steps: StepResult[] };
  console.log('\n### Side by side (same machine, same workload, same analysis)\n');
  console.log(sideBySide(rota.steps, results));
}
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), redis: redisVersion, hz, workers: nWorkers, concurrency: Number(values.concurrency), mode, seconds, steps: results }, null, 2));
process.exit(0);
