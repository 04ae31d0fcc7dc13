/**
 * Single-node figures for the foundation: lateness of 1-second HTTP tasks (scheduled instant ->
 * callback received) over a period, then a stop of the node for a while and what the misfire
 * policy made of the missed seconds. Prints a table; --json FILE writes the numbers.
 *
 *   node dist/bench/single-node.js [--tasks 1] [--seconds 60] [--down 10] [--json out.json]
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { freshEtcd } from '../test/support/etcd.js';
import { Receiver } from '../test/support/receiver.js';
import { startNode, api } from '../test/support/node.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '1' }, seconds: { type: 'string', default: '60' }, down: { type: 'string', default: '10' }, json: { type: 'string' } } });
const K = Number(values.tasks);
const seconds = Number(values.seconds);
const downSec = Number(values.down);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

const { endpoint, prefix } = await freshEtcd();
const rx = await new Receiver().start();
let node = await startNode(endpoint, prefix);
const ids: string[] = [];
for (let i = 0; i < K; i++) {
  const r = await api(node, 'POST', '/api/v1/tasks', { name: `lat-${i}`, schedule: { cron: '* * * * * *' }, action: { http: { url: `${rx.url}/hook` } } });
  ids.push(r.body.id);
}
const t0 = Date.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const window = rx.hits.filter((h) => h.scheduledMs > t0 + 1000 && h.scheduledMs <= t0 + seconds * 1000);
const late = window.map((h) => h.receivedMs - h.scheduledMs);
const expected = K * (seconds - 1);

// Stop the node, leave it down, start it again on the same etcd prefix.
await node.stop();
const downFrom = Date.now();
await new Promise((r) => setTimeout(r, downSec * 1000));
node = await startNode(endpoint, prefix);
const upAt = Date.now();
await new Promise((r) => setTimeout(r, 5000));
const missedWindow = rx.hits.filter((h) => h.scheduledMs > downFrom && h.scheduledMs < upAt);
const perSecond = new Map<string, number>();
for (const h of rx.hits) perSecond.set(`${h.taskId}@${h.scheduledMs}`, (perSecond.get(`${h.taskId}@${h.scheduledMs}`) ?? 0) + 1);
const dups = [...perSecond.values()].filter((n) => n > 1).length;
const catchUpLate = missedWindow.map((h) => h.receivedMs - h.scheduledMs);

const result = {
  machine: { cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
  tasks: K,
  seconds,
  hits: window.length,
  expected,
  p50: pct(late, 50),
  p99: pct(late, 99),
  max: Math.max(...late),
  downSec,
  missedSecondsCaughtUp: missedWindow.length,
  catchUpMaxDelayMs: Math.max(...catchUpLate),
  duplicates: dups,
};
console.log(`| tasks | seconds | hits/expected | p50 ms | p99 ms | max ms | down s | caught up | duplicates |`);
console.log(`|---|---|---|---|---|---|---|---|---|`);
console.log(`| ${K} | ${seconds} | ${result.hits}/${expected} | ${result.p50} | ${result.p99} | ${result.max} | ${downSec} | ${result.missedSecondsCaughtUp} | ${dups} |`);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
await node.stop();
await rx.stop();
process.exit(0);
