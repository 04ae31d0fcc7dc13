/**
 * What a leader's memory holds with many task definitions: one etcd member, --tasks definitions
 * written straight into it (the stored form of one task made through the API, cloned with new
 * ids and names, with their name keys and cursors), then one `rota serve` node that becomes the
 * leader and lists them (the new-leader case, without the garbage of creating them through
 * it). Once the view is synced it reports RSS and the V8 heap, takes a heap snapshot
 * (--heapsnapshot-signal) and sums its objects' self sizes by kind and constructor, the biggest
 * first.
 *
 *   node dist/bench/leader-heap.js [--tasks 100000] [--top 25] [--settle 5] [--keep] [--json FILE]
 *
 * --settle: seconds between the sync and the measure (RSS is sampled each second meanwhile).
 *
 * The snapshot is written into a scratch folder and removed afterwards unless --keep.
 */
import { parseArgs } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEtcdProcess } from '../src/store/etcd-process.js';
import { RotaProcess } from '../test/support/cluster.js';
import { waitFor } from '../test/support/etcd.js';
import { machine, sleep } from './lib/common.js';
import { seedTasks } from './lib/seed.js';
import { rssMB } from './lib/cluster-watch.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '100000' },
    top: { type: 'string', default: '25' },
    keep: { type: 'boolean', default: false },
    settle: { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const N = Number(values.tasks);
const log = (...a: unknown[]) => console.error(`[leader-heap ${new Date().toISOString().slice(11, 19)}]`, ...a);

const dir = mkdtempSync(join(tmpdir(), 'rota-heap-'));
const etcd = await startEtcdProcess({ dataDir: join(dir, 'etcd'), clientPort: await freePort(), peerPort: await freePort(), name: 'heap' });
const endpoint = etcd.endpoint;
const port = await freePort();
const node = new RotaProcess('n1', port, {
  listen: { host: '127.0.0.1', port },
  node: { id: 'n1' },
  etcd: { endpoints: [endpoint], prefix: '/rota/' },
  log: { level: 'info' },
});
try {
  // One task through the API gives the stored form; the node is then stopped and the rest seeded.
  process.env.ROTA_NODE_ARGS = `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${dir}`;
  await node.start();
  const made = await node.api('POST', '/api/v1/tasks', { name: 'template', schedule: { cron: '0 0 1 1 *', tz: 'UTC' }, action: { http: { url: 'http://127.0.0.1:9/seed' } } });
  if (made.status !== 201) throw new Error(`template task: ${made.status} ${JSON.stringify(made.body)}`);
  await node.stop();
  const seededMs = await seedTasks(endpoint, made.body.id, N, log);
  log(`seeded ${N} tasks in ${(seededMs / 1000).toFixed(1)} s`);

  const startMs = Date.now();
  await node.start();
  const synced = await waitFor(() => {
    const m = readFileSync(node.logFile, 'utf8').split('\n').filter((l) => l.includes('leader view synced')).pop();
    return m && JSON.parse(m).tasks >= N ? JSON.parse(m) : null;
  }, 'the leader view synced', 120_000, 200);
  const syncMs = synced.time - startMs;
  // Let the first plan and the start-up garbage settle; RSS sampled each second meanwhile.
  const rssSeries: number[] = [];
  for (let i = 0; i < Number(values.settle); i++) {
    await sleep(1000);
    rssSeries.push(Math.round(rssMB(node.child!.pid)));
  }
  log(`RSS each second after the sync: ${rssSeries.join(' ')} MB`);
  const rss = Math.round(rssMB(node.child!.pid));
  const metrics = await fetch(`${node.url}/metrics`).then((r) => r.text());
  const gauge = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN) / 1e6);
  const heap = { usedMB: gauge('rota_nodejs_heap_size_used_bytes'), totalMB: gauge('rota_nodejs_heap_size_total_bytes'), externalMB: gauge('rota_nodejs_external_memory_bytes') };
  log(`view synced ${syncMs} ms after start; RSS ${rss} MB; heap ${JSON.stringify(heap)}; taking a heap snapshot`);
  const before = new Set(readdirSync(dir));
  node.signal('SIGUSR2');
  const file = await waitFor(() => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)), 'the heap snapshot', 120_000, 500);
  let size = -1;
  await waitFor(async () => {
    // written when its size stops changing and the node answers again
    const s = readFileSync(join(dir, file)).length;
    const stable = s === size && (await node.api('GET', '/readyz').then((r) => r.status === 200).catch(() => false));
    size = s;
    return stable;
  }, 'the snapshot written', 300_000, 2000);
  const snap = readSnapshot(readFileSync(join(dir, file)));
  const { rows, total } = summarize(snap);
  const strings = stringsByContent(snap);

  console.log(`\nLeader heap with ${N} task definitions (${JSON.stringify(machine())})\n`);
  console.log(`RSS ${rss} MB (V8 heap used ${heap.usedMB} of ${heap.totalMB} MB, external ${heap.externalMB} MB); view synced ${syncMs} ms after the node started; heap snapshot ${(size / 1e6).toFixed(0)} MB on disk\n`);
  console.log('| kind | name | objects | MB (self) |');
  console.log('|---|---|---:|---:|');
  for (const r of rows.slice(0, Number(values.top))) console.log(`| ${r.type} | ${r.name.slice(0, 60).replace(/\|/g, '\\|')} | ${r.count} | ${(r.bytes / 1e6).toFixed(1)} |`);
  console.log(`\nall objects in the snapshot: ${(total / 1e6).toFixed(1)} MB\n`);
  console.log('Strings by what they begin with (repeats of one value are copies nobody shares):\n');
  console.log('| begins with | strings | MB (self) |');
  console.log('|---|---:|---:|');
  for (const r of strings.slice(0, Number(values.top))) console.log(`| \`${JSON.stringify(r.name).slice(1, -1).replace(/\|/g, '\\|').replace(/`/g, "'")}\` | ${r.count} | ${(r.bytes / 1e6).toFixed(1)} |`);
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), tasks: N, rssMB: rss, rssSeries, heap, syncMs, totalMB: total / 1e6, rows: rows.slice(0, 100), strings: strings.slice(0, 100) }, null, 2));
} finally {
  await node.kill();
  node.cleanup();
  await etcd.stop();
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
  else log(`kept ${dir}`);
}

interface Row {
  type: string;
  name: string;
  count: number;
  bytes: number;
}

type Snapshot = { snapshot: { meta: { node_fields: string[]; node_types: unknown[] } }; nodes: number[]; strings: string[] };

/**
 * A .heapsnapshot read from its bytes: the file can be larger than the longest string V8 makes,
 * so the node array is scanned as bytes and only the head and the string table are parsed.
 */
function readSnapshot(buf: Buffer): Snapshot {
  const nodesAt = buf.indexOf('"nodes":[');
  const head = buf.subarray(0, nodesAt).toString('utf8').trim().replace(/,$/, '') + '}';
  const meta = JSON.parse(head) as Pick<Snapshot, 'snapshot'>;
  const nodes: number[] = [];
  let n = 0;
  let inNum = false;
  let i = nodesAt + '"nodes":['.length;
  for (; buf[i] !== 0x5d; i++) {
    const c = buf[i]!;
    if (c >= 0x30 && c <= 0x39) {
      n = n * 10 + (c - 0x30);
      inNum = true;
    } else if (inNum) {
      nodes.push(n);
      n = 0;
      inNum = false;
    }
  }
  if (inNum) nodes.push(n);
  const stringsAt = buf.indexOf('"strings":[', i);
  const end = buf.lastIndexOf(']');
  const strings = JSON.parse(buf.subarray(stringsAt + '"strings":'.length, end + 1).toString('utf8')) as string[];
  return { ...meta, nodes, strings };
}

/**
 * The snapshot's nodes summed into rows by `keyOf(type, name)` (null: left out), the biggest
 * first.
 */
function sumBy(snap: Snapshot, keyOf: (type: string, name: string) => { key: string; name: string } | null): Row[] {
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0] as string[];
  const F = fields.length;
  const [iType, iName, iSize] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const by = new Map<string, Row>();
  for (let i = 0; i < snap.nodes.length; i += F) {
    const type = types[snap.nodes[i + iType]!]!;
    const k = keyOf(type, snap.strings[snap.nodes[i + iName]!]!);
    if (!k) continue;
    const r = by.get(k.key) ?? { type, name: k.name, count: 0, bytes: 0 };
    r.count++;
    r.bytes += snap.nodes[i + iSize]!;
    by.set(k.key, r);
  }
  return [...by.values()].sort((a, b) => b.bytes - a.bytes);
}

/**
 * Strings summed by their first 24 characters with digits folded (`/rota/tasks/1000001` and
 * `/rota/tasks/1000002` are one row): what kinds of text the heap holds, and how many copies.
 */
function stringsByContent(snap: Snapshot): Row[] {
  const isString = (type: string) => type === 'string' || type === 'concatenated string' || type === 'sliced string';
  return sumBy(snap, (type, name) => {
    if (!isString(type)) return null;
    const folded = name.slice(0, 24).replace(/[0-9]+/g, '#');
    return { key: folded, name: folded };
  });
}

/** Self sizes summed by node kind and, for objects, constructor name (strings by kind alone). */
function summarize(snap: Snapshot): { rows: Row[]; total: number } {
  const rows = sumBy(snap, (type, name) => {
    const shown = type === 'object' || type === 'closure' || type === 'native' ? name : '';
    return { key: `${type}\u0000${shown}`, name: shown };
  });
  return { rows, total: rows.reduce((a, r) => a + r.bytes, 0) };
}
