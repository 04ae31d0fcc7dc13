import type { EtcdHandle } from './etcd.js';
import { K, type Versioned } from './keys.js';
import { listKeys, listPrefix } from './watch.js';
import type { Task } from '../domain/task.js';
import { RotaError } from '../domain/errors.js';

export type { Versioned } from './keys.js';

/** Task ids a node reserves at a time. */
export const ID_BLOCK = 100;

/** Told of each definition this store wrote (null: deleted), at the revision it was written. */
export type TaskWritten = (id: string, task: Task | null, raw: string, rev: number) => void;

/** Task definitions, their unique-name index and their schedule cursors. */
export class TaskStore {
  constructor(
    private readonly h: EtcdHandle,
    private readonly written: TaskWritten = () => undefined,
  ) {}

  /** Ids this node reserved from the shared counter and has not used yet: [next, end). */
  private ids = { next: 0, end: 0 };
  private refill: Promise<void> | null = null;

  /**
   * Creates a task under a fresh numeric id. Ids come from blocks of ID_BLOCK that each node
   * reserves from the shared counter with one compare-and-swap, so concurrent creates do not
   * contend on it (ids are unique, increasing per node, with gaps across nodes and restarts).
   * One transaction writes the name (compare absent), the task (compare absent) and its
   * cursor: a retried request that was in fact applied shows up as a name conflict, never as
   * a half-written task.
   */
  async create(draft: Omit<Task, 'id'>, cursorMs: number): Promise<Task> {
    const { ns } = this.h;
    for (let i = 0; i < 5; i++) {
      const id = await this.nextId();
      const task: Task = { ...draft, id };
      const nameKey = K.name(task.tenant, task.name);
      const raw = JSON.stringify(task);
      const r = await ns
        .if(nameKey, 'Create', '==', 0)
        .and(K.task(id), 'Create', '==', 0)
        .then(ns.put(K.task(id)).value(raw), ns.put(nameKey).value(id), ns.put(K.cursor(id)).value(String(cursorMs)))
        .else(ns.get(nameKey))
        .commit();
      if (r.succeeded) {
        this.written(id, task, raw, Number(r.header.revision));
        return task;
      }
      const existing = r.responses[0]?.response_range?.kvs[0];
      if (existing) throw new RotaError('CONFLICT', `a task named '${task.name}' already exists (id ${existing.value.toString()})`);
    }
    throw new RotaError('UNAVAILABLE', 'could not allocate a task id, try again');
  }

  private async nextId(): Promise<string> {
    for (;;) {
      if (this.ids.next < this.ids.end) return String(this.ids.next++);
      this.refill ??= this.reserveIds().finally(() => (this.refill = null));
      await this.refill;
    }
  }

  private async reserveIds(): Promise<void> {
    const { ns } = this.h;
    for (let i = 0; i < 50; i++) {
      const seq = await ns.get(K.taskSeq).exec();
      const kv = seq.kvs[0];
      const last = kv ? Number(kv.value.toString()) : 0;
      const r = await ns
        .if(K.taskSeq, 'Mod', '==', kv ? Number(kv.mod_revision) : 0)
        .then(ns.put(K.taskSeq).value(String(last + ID_BLOCK)))
        .commit();
      if (r.succeeded) {
        this.ids = { next: last + 1, end: last + ID_BLOCK + 1 };
        return;
      }
    }
    throw new RotaError('UNAVAILABLE', 'could not reserve task ids: too much contention, try again');
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

  /** Every task's id, without reading the definitions. */
  async allIds(): Promise<string[]> {
    return (await listKeys(this.h, K.tasks)).map((k) => k.slice(K.tasks.length));
  }

  async list(): Promise<Task[]> {
    const { kvs } = await listPrefix(this.h, K.tasks);
    return kvs.map((kv) => JSON.parse(kv.value) as Task).sort((a, b) => Number(a.id) - Number(b.id));
  }

  /**
   * Replaces a task if it has not changed since `expectedRev`. A rename moves the name index
   * in the same transaction. `cursorMs`, when given, moves the cursor forward (never back) —
   * or, with `cursor: 'set'`, to exactly that instant (see TaskService.setEnabled).
   */
  async replace(prev: Versioned<Task>, next: Task, cursorMs?: number, cursor: 'forward' | 'set' = 'forward'): Promise<Task> {
    const { ns } = this.h;
    const renamed = prev.value.name !== next.name || prev.value.tenant !== next.tenant;
    let txn = ns.if(K.task(next.id), 'Mod', '==', prev.modRevision);
    const raw = JSON.stringify(next);
    const ops = [ns.put(K.task(next.id)).value(raw)];
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
      ops.push(ns.put(K.cursor(next.id)).value(String(cursor === 'set' ? cursorMs : Math.max(old, cursorMs))));
    }
    const r = await txn.then(...ops, ...(renamed ? [ns.delete().key(K.name(prev.value.tenant, prev.value.name))] : [])).commit();
    if (r.succeeded) {
      this.written(next.id, next, raw, Number(r.header.revision));
      return next;
    }
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
        ns.delete().key(K.alert(t.id)),
        ns.delete().prefix(K.taskTriggers(t.id)),
        ns.delete().prefix(K.taskRuns(t.id)),
      )
      .commit();
    if (!r.succeeded) throw new RotaError('CONFLICT', `task ${t.id} was changed by someone else; read it again and retry`);
    this.written(t.id, null, '', Number(r.header.revision));
  }
}
