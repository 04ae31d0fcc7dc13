/**
 * What etcd's CPU costs per key written, by the number of keys in one transaction: a fresh
 * 3-member cluster on loopback, an open loop writing --rate keys/s (320-byte values, the size of
 * a firing) in transactions of k puts (or k deletes of keys written before), with one watcher on
 * the prefix as the leader has one on the firings. Reports the CPU the three members used per
 * key. Per key = per transaction / k + per key proper: the two are what a firing protocol trades
 * (fewer, larger transactions against fewer keys).
 *
 *   node dist/bench/etcd-keycost.js [--sizes 10,40,120] [--rate 4000] [--seconds 8] [--json FILE]
 */
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { EtcdCluster } from '../test/support/cluster.js';
import { connectEtcd } from '../src/store/etcd.js';
import { cpuMeter, machine, sleep } from './lib/common.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '10,40,120' }, rate: { type: 'string', default: '4000' }, seconds: { type: 'string', default: '8' }, json: { type: 'string' } } });
const sizes = values.sizes!.split(',').map(Number);
const rate = Number(values.rate);
const seconds = Number(values.seconds);

interface Row { op: 'put' | 'delete'; keysPerTxn: number; keysPerSec: number; etcdCpuPct: number; usPerKey: number }

const etcd = await EtcdCluster.start();
const h = connectEtcd({ endpoints: etcd.endpoints, prefix: '/keycost/' });
const value = randomBytes(160).toString('hex');
const watcher = await h.ns.watch().prefix('f/').create();
const pids = Object.fromEntries(etcd.members.map((m, i) => [`e${i + 1}`, m?.child.pid]));
const rows: Row[] = [];
let written = 0;
let deleted = 0;

/** One open-loop round: every 10 ms, the keys due so far go out in transactions of k. */
async function round(op: Row['op'], k: number): Promise<Row> {
  let done = 0;
  let inFlight = 0;
  let due = 0;
  const meter = cpuMeter(pids);
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    due += rate / 100;
    for (; due >= k; due -= k) {
      const ops = Array.from({ length: k }, () => (op === 'put' ? h.ns.put(`f/${written++}`).value(value) : h.ns.delete().key(`f/${deleted++}`)));
      inFlight++;
      h.ns.if('none', 'Version', '==', 0).then(...ops).commit().then(
        () => (done += k),
        (err: Error) => console.error(`txn: ${err.message}`),
      ).finally(() => inFlight--);
    }
    await sleep(10);
  }
  while (inFlight > 0) await sleep(10);
  const el = (Date.now() - t0) / 1000;
  const cpu = Object.values(meter.stop()).reduce((a, b) => a + b, 0);
  const keysPerSec = Math.round(done / el);
  return { op, keysPerTxn: k, keysPerSec, etcdCpuPct: cpu, usPerKey: Math.round((cpu * 10_000) / keysPerSec) };
}

try {
  for (const k of sizes) rows.push(await round('put', k));
  for (const k of sizes) {
    if (deleted + rate * seconds <= written) rows.push(await round('delete', k));
    else console.error(`delete, ${k} per txn: skipped (fewer keys written than a round deletes)`);
  }
} finally {
  await watcher.cancel();
  h.close();
  await etcd.stop();
}

console.log(`\n### etcd CPU per key by transaction size (3 members on loopback, ${rate} keys/s offered, 320 B values, one prefix watcher)\n`);
console.log('| op | keys per txn | keys/s | etcd CPU, 3 members (% of one core) | µs of CPU per key |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.op} | ${r.keysPerTxn} | ${r.keysPerSec} | ${r.etcdCpuPct} | ${r.usPerKey} |`);
if (values.json) writeFileSync(values.json, JSON.stringify({ machine: machine(), rate, seconds, rows }, null, 2));
process.exit(0);
