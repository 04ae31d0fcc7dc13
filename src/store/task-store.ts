import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import { listPrefix } from './watch.js';
import type { Task } from '../domain/task.js';
import { RotaError } from '../domain/errors.js';

export interface Versioned<T> {
  value: T;
  modRevision: number;
}

/** Task definitions, their unique-name index and their schedule cursors. */
export class TaskStore {
  constructor(private readonly h: EtcdHandle) {}

  /**
   * Creates a task under a fresh numeric id. One transaction: the id counter (compare its
   * revision), the name (compare absent), the task and its cursor. A retried request that was
   * in fact applied shows up as a name conflict, never as a half-written task.
   */
  async create(draft: Omit<Task, 'id'>, cursorMs: number): Promise<Task> {
    const { ns } = this.h;
    for (let i = 0; i < 50; i++) {
      const seq = await ns.get(K.taskSeq).exec();
      const kv = seq.kvs[0];
      const last = kv ? Number(kv.value.toString()) : 0;
      const id = String(last + 1);
      const task: Task = { ...draft, id };
      const nameKey = K.name(task.tenant, task.name);
      const r = await ns
        .if(K.taskSeq, 'Mod', '==', kv ? Number(kv.mod_revision) : 0)
        .and(nameKey, 'Create', '==', 0)
        .then(
          ns.put(K.taskSeq).value(id),
          ns.put(K.task(id)).value(JSON.stringify(task)),
          ns.put(nameKey).value(id),
          ns.put(K.cursor(id)).value(String(cursorMs)),
        )
        .else(ns.get(nameKey))
        .commit();
      if (r.succeeded) return task;
      const existing = r.responses[0]?.response_range?.kvs[0];
      if (existing) throw new RotaError('CONFLICT', `a task named '${task.name}' already exists (id ${existing.value.toString()})`);
    }
    throw new RotaError('UNAVAILABLE', 'could not allocate a task id: too much contention, try again');
  }

  async get(id: string): Promise<Versioned<Task> | null> {
    const r = await this.h.ns.get(K.task(id)).exec();
    const kv = r.kvs[0];
    if (!kv) return null;
    return { value: JSON.parse(kv.value.toString()) as Task, modRevision: Number(kv.mod_revision) };
  }

  async idByName(tenant: string, name: string): Promise<string | null> {
    const v = await this.h.ns.get(K.name(tenant, name)).string();
    return v ?? null;
  }

  async list(): Promise<Task[]> {
    const { kvs } = await listPrefix(this.h, K.tasks);
    return kvs.map((kv) => JSON.parse(kv.value) as Task).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /**
   * Replaces a task if it has not changed since `expectedRev`. A rename moves the name index
   * in the same transaction. `cursorMs`, when given, moves the cursor forward (never back).
   */
  async replace(prev: Versioned<Task>, next: Task, cursorMs?: number): Promise<Task> {
    const { ns } = this.h;
    const renamed = prev.value.name !== next.name || prev.value.tenant !== next.tenant;
    let txn = ns.if(K.task(next.id), 'Mod', '==', prev.modRevision);
    const ops = [ns.put(K.task(next.id)).value(JSON.stringify(next))];
    if (renamed) {
      txn = txn.and(K.name(next.tenant, next.name), 'Create', '==', 0);
      ops.push(ns.put(K.name(next.tenant, next.name)).value(next.id));
    }
    let cursorRev: number | undefined;
    if (cursorMs !== undefined) {
      const cur = await ns.get(K.cursor(next.id)).exec();
      const kv = cur.kvs[0];
      const old = kv ? Number(kv.value.toString()) : 0;
      cursorRev = kv ? Number(kv.mod_revision) : 0;
      txn = txn.and(K.cursor(next.id), 'Mod', '==', cursorRev);
      ops.push(ns.put(K.cursor(next.id)).value(String(Math.max(old, cursorMs))));
    }
    const r = await txn.then(...ops, ...(renamed ? [ns.delete().key(K.name(prev.value.tenant, prev.value.name))] : [])).commit();
    if (r.succeeded) return next;
    if (renamed && (await this.idByName(next.tenant, next.name))) {
      throw new RotaError('CONFLICT', `a task named '${next.name}' already exists`);
    }
    throw new RotaError('CONFLICT', `task ${next.id} was changed by someone else; read it again and retry`);
  }

  /** Deletes the task, its name, cursor, pending triggers and run history. */
  async delete(prev: Versioned<Task>): Promise<void> {
    const { ns } = this.h;
    const t = prev.value;
    const r = await ns
      .if(K.task(t.id), 'Mod', '==', prev.modRevision)
      .then(
        ns.delete().key(K.task(t.id)),
        ns.delete().key(K.name(t.tenant, t.name)),
        ns.delete().key(K.cursor(t.id)),
        ns.delete().prefix(`triggers/${t.id}/`),
        ns.delete().prefix(K.taskRuns(t.id)),
      )
      .commit();
    if (!r.succeeded) throw new RotaError('CONFLICT', `task ${t.id} was changed by someone else; read it again and retry`);
  }
}
