import type { EtcdHandle } from './etcd.js';
import { K, type Versioned } from './keys.js';
import type { Firing } from '../domain/firing.js';
import type { Task } from '../domain/task.js';
import { listPrefix } from './watch.js';
import { packWithin, readOp } from './txn.js';

/**
 * The reads of firings, tasks and cursors that the leader, the nodes and the API share. The
 * writes are split by who makes them: the leader's (leader-firings.ts, fenced), a node's
 * (node-firings.ts, guarded by the firing's revision and its lease), and anyone's requests to
 * the leader and the nodes (trigger-store.ts).
 */
export class FiringReads {
  constructor(protected readonly h: EtcdHandle) {}

  /** Every firing of a task (one per replica and scheduled time still in flight). */
  async firingsOf(taskId: string): Promise<Firing[]> {
    const { kvs } = await listPrefix(this.h, K.taskFirings(taskId));
    return kvs.map((kv) => JSON.parse(kv.value) as Firing);
  }

  /** A task definition (the agent reads it back after a claim whose outcome it did not learn). */
  async readTask(taskId: string): Promise<Task | null> {
    const v = await this.h.ns.get(K.task(taskId)).string();
    return v ? (JSON.parse(v) as Task) : null;
  }

  async getFiring(taskId: string, scheduledMs: number, replica = 0): Promise<{ firing: Firing; modRevision: number } | null> {
    const r = await this.h.ns.get(K.firing(taskId, scheduledMs, replica)).exec();
    const kv = r.kvs[0];
    return kv ? { firing: JSON.parse(kv.value.toString()) as Firing, modRevision: Number(kv.mod_revision) } : null;
  }

  /**
   * The schedule cursors of the given tasks (value and mod revision; absent ones are
   * left out), read in transactions of up to etcd's op limit; all of them by listing when there are many.
   */
  async readCursors(ids: string[]): Promise<Map<string, Versioned<number>>> {
    const out = new Map<string, Versioned<number>>();
    if (ids.length > 1000) {
      const { kvs } = await listPrefix(this.h, K.cursors);
      for (const kv of kvs) out.set(kv.key.slice(K.cursors.length), { value: Number(kv.value), modRevision: kv.modRevision });
      return out;
    }
    const { ns } = this.h;
    const chunks = packWithin(ids, () => [1], [this.h.maxTxnOps]);
    await Promise.all(
      chunks.map(async (chunk) => {
        const r = await ns.if(K.cursors, 'Version', '>', -1).then(...chunk.map((id) => readOp(this.h, K.cursor(id)))).commit();
        chunk.forEach((id, i) => {
          const kv = r.responses[i]?.response_range?.kvs[0];
          if (kv) out.set(id, { value: Number(kv.value.toString()), modRevision: Number(kv.mod_revision) });
        });
      }),
    );
    return out;
  }
}
