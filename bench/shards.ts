/**
 * The storage side of sharding, measured on this machine: S independent 3-member etcd clusters
 * (one per leader group, as docs/scaling.md lays out), each driven at the same concurrency at
 * the same time with the write a firing's plan makes (create-if-absent transactions) and plain
 * puts. The sum over the shards is what S leader groups could write together; whether it grows
 * with S here says whether one cluster's ceiling is CPU (it will not: the cores are shared) or
 * raft round trips and fsyncs (it will).
 *
 *   node dist/bench/shards.js [--shards 1,2,3] [--seconds 5] [--concurrency 64] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { EtcdCluster } from '../test/support/cluster.js';
import { measureCeiling, type CeilingRow } from './lib/etcd-ceiling.js';
import { machine } from './lib/common.js';

const log = (...a: unknown[]) => console.error(`[shards ${new Date().toISOString().slice(11, 19)}]`, ...a);

const { values } = parseArgs({ options: { shards: { type: 'string', default: '1,2,3' }, seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '64' }, json: { type: 'string' } } });
const counts = values.shards!.split(',').map(Number);
const conc = Number(values.concurrency);

interface Row { shards: number; op: CeilingRow['op']; perShard: number[]; total: number; p99: number }
const rows: Row[] = [];
for (const s of counts) {
  log(`${s} shard(s): starting ${s * 3} etcd members`);
  const clusters = await Promise.all(Array.from({ length: s }, () => EtcdCluster.start()));
  try {
    const results = await Promise.all(clusters.map((c) => measureCeiling(c.endpoints, { seconds: Number(values.seconds), concurrency: [conc] })));
    for (const op of ['put', 'txn create-if-absent'] as const) {
      const mine = results.map((r) => r.find((x) => x.op === op)!);
      const row: Row = { shards: s, op, perShard: mine.map((x) => x.opsPerSec), total: mine.reduce((a, x) => a + x.opsPerSec, 0), p99: Math.max(...mine.map((x) => x.p99)) };
      rows.push(row);
      log(`${s} shard(s) ${op}: ${row.total}/s (${row.perShard.join(' + ')}), worst p99 ${row.p99} ms`);
    }
  } finally {
    await Promise.all(clusters.map((c) => c.stop()));
  }
}
console.log(`\n### etcd writes per second with S independent 3-member clusters (concurrency ${conc} each)\n`);
console.log('| shards | operation | total ops/s | per shard | vs 1 shard | worst p99 ms |');
console.log('|---:|---|---:|---|---:|---:|');
for (const r of rows) {
  const one = rows.find((x) => x.shards === counts[0] && x.op === r.op)!;
  console.log(`| ${r.shards} | ${r.op} | ${r.total} | ${r.perShard.join(' + ')} | ${(r.total / one.total).toFixed(2)}x | ${r.p99} |`);
}
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), concurrency: conc, rows }, null, 2));
process.exit(0);
