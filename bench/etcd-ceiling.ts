/**
 * etcd's write ceiling on a fresh 3-member loopback cluster (the shape TestCluster uses):
 * put and create-if-absent txn, concurrency 1 and 64, ~5 s each, 256-byte values.
 *
 *   node dist/bench/etcd-ceiling.js [--seconds 5] [--concurrency 1,64] [--firings N] [--json FILE]
 *
 * --firings N adds "N firings/s as a fraction of the ceiling" (cluster-load.js also measures the
 * ceiling itself, on its own etcd, after its steps).
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { EtcdCluster } from '../test/support/cluster.js';
import { measureCeiling, ceilingTable } from './lib/etcd-ceiling.js';
import { machine } from './lib/common.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '1,64' }, firings: { type: 'string' }, json: { type: 'string' } } });
const etcd = await EtcdCluster.start();
try {
  const rows = await measureCeiling(etcd.endpoints, { seconds: Number(values.seconds), concurrency: values.concurrency!.split(',').map(Number) });
  console.log('\n### etcd ceiling (3 members on loopback, fresh cluster)\n');
  console.log(ceilingTable(rows, values.firings ? Number(values.firings) : undefined));
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), ceiling: rows }, null, 2));
} finally {
  await etcd.stop();
}
process.exit(0);
