/**
 * Many task definitions written straight into etcd (the benches' fast path to 100k tasks): the
 * stored form of one task made through the API, cloned with new ids and names, with their name
 * keys and cursors, in transactions of 42 tasks (126 ops, under etcd's default --max-txn-ops of
 * 128), four at a time. `vary` changes each clone (its schedule, say).
 */
import { connectEtcd } from '../../src/store/etcd.js';
import { K } from '../../src/store/keys.js';
import { pool } from './common.js';

export async function seedTasks(endpoint: string, templateId: string, n: number, log: (...a: unknown[]) => void, vary: (t: Record<string, unknown>, j: number) => Record<string, unknown> = (t) => t): Promise<number> {
  const h = connectEtcd({ endpoints: [endpoint], prefix: '/rota/' });
  try {
    const template = JSON.parse((await h.ns.get(K.task(templateId)).string())!) as Record<string, unknown>;
    const cursor = (await h.ns.get(K.cursor(templateId)).string())!;
    const t0 = Date.now();
    const BATCH = 42;
    const starts: number[] = [];
    for (let i = 1; i <= n; i += BATCH) starts.push(i);
    await pool(starts, 4, async (i) => {
      const ops = [];
      for (let j = i; j < Math.min(n + 1, i + BATCH); j++) {
        const id = String(1_000_000 + j);
        const name = `seed-${j}`;
        ops.push(h.ns.put(K.task(id)).value(JSON.stringify(vary({ ...template, id, name }, j))), h.ns.put(K.name('default', name)).value(id), h.ns.put(K.cursor(id)).value(cursor));
      }
      await h.ns.if(K.taskSeq, 'Version', '>', -1).then(...ops).commit();
      if (i % 20_000 < BATCH) log(`seeded ${Math.min(n, i + BATCH - 1)} of ${n}`);
    });
    return Date.now() - t0;
  } finally {
    h.close();
  }
}
