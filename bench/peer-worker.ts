/**
 * The peer's worker process (started by peer-bullmq.js, one per --workers): a BullMQ Worker that
 * POSTs each job to the Receiver with the same headers a Rota HTTP action sends. The scheduled
 * time is parsed from the job id `repeat:<schedulerId>:<scheduled ms>` (job.delay is reset to 0
 * when a delayed job is promoted).
 *
 *   node dist/bench/peer-worker.js --redis-port P --queue Q --url URL [--concurrency 50]
 */
import { parseArgs } from 'node:util';
import { Agent, request } from 'node:http';
import { Worker } from 'bullmq';

const { values } = parseArgs({ options: { 'redis-port': { type: 'string' }, queue: { type: 'string' }, url: { type: 'string' }, concurrency: { type: 'string', default: '50' } } });
const concurrency = Number(values.concurrency);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(values.url!);

function post(headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': '0' }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const worker = new Worker(
  values.queue!,
  async (job) => {
    const id = String(job.id);
    const cut = id.lastIndexOf(':');
    const scheduledMs = id.slice(cut + 1);
    const schedulerId = id.slice(id.indexOf(':') + 1, cut);
    const status = await post({ 'X-Rota-Task-Id': schedulerId, 'X-Rota-Run-Id': id, 'X-Rota-Scheduled-At': scheduledMs, 'X-Rota-Attempt': String(job.attemptsMade + 1) });
    if (status !== 200) throw new Error(`status ${status}`);
  },
  { connection: { host: '127.0.0.1', port: Number(values['redis-port']), maxRetriesPerRequest: null }, concurrency },
);
worker.on('error', (e) => console.error('worker error', e));
worker.on('ready', () => process.send?.('ready'));
const stop = async () => {
  await worker.close(true).catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
