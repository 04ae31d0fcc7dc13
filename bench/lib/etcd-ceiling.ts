/**
 * etcd's own write ceiling on this machine: a closed loop of puts, and of create-if-absent
 * transactions (the shape of a firing write), at a given concurrency for a fixed time; unique
 * keys under a bench prefix, 256-byte values. The prefix is deleted afterwards.
 */
import { randomBytes } from 'node:crypto';
import { connectEtcd } from '../../src/store/etcd.js';
import { pct } from './common.js';

export interface CeilingRow {
  op: 'put' | 'txn create-if-absent';
  concurrency: number;
  seconds: number;
  ops: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  errors: number;
}

export async function measureCeiling(endpoints: string[], opts: { seconds?: number; concurrency?: number[] } = {}): Promise<CeilingRow[]> {
  const seconds = opts.seconds ?? 5;
  const concs = opts.concurrency ?? [1, 64];
  const prefix = `/bench-${randomBytes(4).toString('hex')}/`;
  const h = connectEtcd({ endpoints, prefix });
  const value = randomBytes(128).toString('hex'); // 256 bytes
  const rows: CeilingRow[] = [];
  try {
    // Warm the connection.
    await h.ns.put('warm').value(value);
    for (const op of ['put', 'txn create-if-absent'] as const) {
      for (const c of concs) {
        const lat: number[] = [];
        let n = 0;
        let errors = 0;
        const end = Date.now() + seconds * 1000;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: c }, async (_, w) => {
            let i = 0;
            while (Date.now() < end) {
              const key = `${op === 'put' ? 'p' : 't'}/${c}/${w}/${i++}`;
              const s = performance.now();
              try {
                if (op === 'put') await h.ns.put(key).value(value);
                else await h.ns.if(key, 'Create', '==', 0).then(h.ns.put(key).value(value)).commit();
                lat.push(performance.now() - s);
                n++;
              } catch {
                errors++;
              }
            }
          }),
        );
        const el = (performance.now() - t0) / 1000;
        lat.sort((a, b) => a - b);
        rows.push({ op, concurrency: c, seconds: Math.round(el * 10) / 10, ops: n, opsPerSec: Math.round(n / el), p50: Math.round(pct(lat, 50) * 10) / 10, p99: Math.round(pct(lat, 99) * 10) / 10, errors });
        await h.ns.delete().all();
      }
    }
  } finally {
    await h.ns.delete().all().catch(() => undefined);
    h.close();
  }
  return rows;
}

export function ceilingTable(rows: CeilingRow[], firingsPerSec?: number): string {
  const lines = ['| operation | concurrency | ops/s | p50 ms | p99 ms | errors |', '|---|---:|---:|---:|---:|---:|', ...rows.map((r) => `| ${r.op} | ${r.concurrency} | ${r.opsPerSec} | ${r.p50} | ${r.p99} | ${r.errors} |`)];
  if (firingsPerSec !== undefined) {
    const txn = Math.max(0, ...rows.filter((r) => r.op === 'txn create-if-absent').map((r) => r.opsPerSec));
    const put = Math.max(0, ...rows.filter((r) => r.op === 'put').map((r) => r.opsPerSec));
    lines.push('', `Rota's highest clean rate ${firingsPerSec} firings/s = ${txn ? ((100 * firingsPerSec) / txn).toFixed(0) : '-'}% of the txn ceiling (${txn}/s), ${put ? ((100 * firingsPerSec) / put).toFixed(0) : '-'}% of the put ceiling (${put}/s).`);
  }
  return lines.join('\n');
}
