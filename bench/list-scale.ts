/**
 * What the operator's reads cost with many task definitions: one etcd member, --tasks
 * definitions seeded straight into it (bench/lib/seed.ts; each a cron task at its own minute and
 * hour of the day, so "by next firing" has something to order), one `rota serve` node that leads
 * them; then each read the dashboard and the CLI make, --repeat times, the median and the
 * slowest reported: the task list by id, by name, by next firing, by last outcome, a page deep
 * into it, a name search, the "last run failed" and "running now" filters, what fires next, the
 * run log (the history page's source), a node's runs, and one task's slots. The task list answers
 * from the node's task index (service/task-index.ts), opened by the first list read: that first
 * read is timed on its own, with the node's resident memory before and after.
 *
 *   node dist/bench/list-scale.js [--tasks 100000] [--repeat 5] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEtcdProcess } from '../src/store/etcd-process.js';
import { RotaProcess } from '../test/support/cluster.js';
import { waitFor } from '../test/support/etcd.js';
import { machine, pct } from './lib/common.js';
import { seedTasks } from './lib/seed.js';

const { values } = parseArgs({ options: { tasks: { type: 'string', default: '100000' }, repeat: { type: 'string', default: '5' }, json: { type: 'string' } } });
const N = Number(values.tasks);
const R = Number(values.repeat);
const log = (...a: unknown[]) => console.error(`[list-scale ${new Date().toISOString().slice(11, 19)}]`, ...a);

const dir = mkdtempSync(join(tmpdir(), 'rota-list-'));
const etcd = await startEtcdProcess({ dataDir: join(dir, 'etcd'), clientPort: await freePort(), peerPort: await freePort(), name: 'list' });
const port = await freePort();
const node = new RotaProcess('n1', port, { listen: { host: '127.0.0.1', port }, node: { id: 'n1' }, etcd: { endpoints: [etcd.endpoint], prefix: '/rota/' }, log: { level: 'info' } });
try {
  await node.start();
  const made = await node.api('POST', '/api/v1/tasks', { name: 'template', schedule: { cron: '0 0 3 * * *', tz: 'UTC' }, action: { http: { url: 'http://127.0.0.1:9/seed' } } });
  if (made.status !== 201) throw new Error(`template task: ${made.status} ${JSON.stringify(made.body)}`);
  await node.stop();
  const seededMs = await seedTasks(etcd.endpoint, made.body.id, N, log, (t, j) => ({ ...t, schedule: { cron: `0 ${j % 60} ${Math.floor(j / 60) % 24} * * *`, tz: 'UTC' } }));
  log(`seeded ${N} tasks in ${(seededMs / 1000).toFixed(1)} s`);
  await node.start();
  await waitFor(() => readFileSync(node.logFile, 'utf8').split('\n').some((l) => l.includes('leader view synced') && JSON.parse(l).tasks >= N), 'the leader view synced', 180_000, 500);
  const id = String(1_000_000 + Math.floor(N / 2));
  const rss = async () => Number(/^rota_process_resident_memory_bytes (\S+)$/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0) / 2 ** 20;
  const rssBefore = await rss();
  const t0 = performance.now();
  const first = await fetch(`${node.url}/api/v1/tasks?limit=100`, { signal: AbortSignal.timeout(120_000) });
  await first.text();
  const openMs = Math.round(performance.now() - t0);
  const rssAfter = await rss();
  log(`first list read (the index opens): ${openMs} ms; node RSS ${rssBefore.toFixed(0)} -> ${rssAfter.toFixed(0)} MiB`);
  const reads: [string, string][] = [
    ['task list, first page (by id)', '/api/v1/tasks?limit=100'],
    ['task list by name', '/api/v1/tasks?sort=name&limit=100'],
    ['task list by next firing', '/api/v1/tasks?sort=next&limit=100'],
    ['task list by last outcome', '/api/v1/tasks?sort=last&limit=100'],
    ['task list, last run failed', '/api/v1/tasks?lastOutcome=failed,lost,expired,killed&limit=100'],
    ['task list, running now', '/api/v1/tasks?running=true&limit=100'],
    [`task list by name, offset ${Math.floor(N / 2)}`, `/api/v1/tasks?sort=name&offset=${Math.floor(N / 2)}&limit=100`],
    ['task list, name search', '/api/v1/tasks?name=seed-4242&limit=100'],
    ['what fires in 10 minutes', '/api/v1/upcoming?within=600000&limit=50'],
    ['run log, 50 newest (history page)', '/api/v1/log?limit=50'],
    ["a node's runs (node page)", '/api/v1/log?node=n1&limit=20'],
    ["one task's slots, last hour", `/api/v1/tasks/${id}/slots?limit=60`],
  ];
  const rows: { read: string; path: string; status: number; p50: number; max: number; bytes: number }[] = [];
  for (const [name, path] of reads) {
    const ms: number[] = [];
    let status = 0;
    let bytes = 0;
    for (let i = 0; i < R; i++) {
      const t0 = performance.now();
      const r = await fetch(`${node.url}${path}`, { signal: AbortSignal.timeout(120_000) });
      const text = await r.text();
      ms.push(performance.now() - t0);
      status = r.status;
      bytes = text.length;
    }
    ms.sort((a, b) => a - b);
    rows.push({ read: name, path, status, p50: Math.round(pct(ms, 50)), max: Math.round(ms[ms.length - 1]!), bytes });
    log(`${name}: ${rows.at(-1)!.p50} ms median`);
  }
  console.log(`\nOperator reads with ${N} task definitions, one node on one etcd member, ${R} times each (${JSON.stringify(machine())})\n`);
  console.log(`The first task list read opens the node's task index: ${openMs} ms (status ${first.status}); the node's RSS ${rssBefore.toFixed(0)} MiB before it, ${rssAfter.toFixed(0)} MiB after.\n`);
  console.log('| read | path | status | median ms | slowest ms | bytes |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.read} | \`${r.path}\` | ${r.status} | ${r.p50} | ${r.max} | ${r.bytes} |`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), tasks: N, repeat: R, index: { openMs, rssBeforeMiB: rssBefore, rssAfterMiB: rssAfter }, rows }, null, 2));
} finally {
  await node.kill();
  node.cleanup();
  await etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
