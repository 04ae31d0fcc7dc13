import type { EtcdHandle } from './etcd.js';
import { K, parseFiringKey } from './keys.js';
import { prefixEnd, toKv, watchPrefix, type Kv, type KvEvent, type PrefixWatch, type WatchOptions } from './watch.js';
import { packWithin, readOp } from './txn.js';
import type { Logger } from '../log.js';
import type { Run, Task } from '../domain/task.js';
import type { Firing } from '../domain/firing.js';

/** What a task listing keeps up to date from etcd (service/task-index.ts). */
export interface TaskFeedConsumer {
  /** A (re-)listing of that prefix starts: forget what was held of it; its keys follow as puts. */
  reset(part: 'tasks' | 'runs' | 'firings'): void;
  /** ...and is whole. */
  synced(part: 'tasks' | 'runs' | 'firings'): void;
  /** A definition (null: deleted), its JSON as stored, at its etcd revision. */
  task(id: string, task: Task | null, raw: string, rev: number): void;
  /** A run record (null: deleted), named by its key (runs sort by key within a task). */
  run(taskId: string, key: string, run: Pick<Run, 'id' | 'state' | 'endedMs'> | null): void;
  /** A firing (null: gone). */
  firing(taskId: string, key: string, firing: Pick<Firing, 'state' | 'startedMs'> | null): void;
}

/**
 * Task definitions, each task's newest run records, and firings, listed a page at a time and then watched:
 * the feed behind a task listing that answers from memory (sort by last outcome, "running
 * now") rather than scanning etcd per request. Close it when nobody reads the listing: at
 * 1,000 firings/s the run and firing watches carry a few thousand events a second.
 */
export async function openTaskFeed(h: EtcdHandle, log: Logger, to: TaskFeedConsumer): Promise<{ close(): Promise<void> }> {
  const watches: PrefixWatch[] = [];
  const close = async () => void (await Promise.all(watches.splice(0).map((w) => w.close())));
  const open = async (prefix: string, part: 'tasks' | 'runs' | 'firings', event: (ev: KvEvent, rel: string) => void, snapshot?: WatchOptions['snapshot']) =>
    watches.push(await watchPrefix(h, prefix, { reset: () => to.reset(part), synced: () => to.synced(part), event: (ev) => event(ev, ev.key.slice(prefix.length)) }, log, { paged: true, ...(snapshot ? { snapshot } : {}) }));
  try {
    await open(K.tasks, 'tasks', (ev, id) => to.task(id, ev.type === 'put' ? (JSON.parse(ev.value) as Task) : null, ev.value, ev.modRevision));
    await open(K.runs, 'runs', (ev, rel) => to.run(rel.slice(0, rel.indexOf('/')), rel, ev.type === 'put' ? (JSON.parse(ev.value) as Run) : null), (each) => newestRuns(h, each));
    await open(K.firings, 'firings', (ev, rel) => {
      const id = parseFiringKey(rel);
      if (id) to.firing(id.taskId, rel, ev.type === 'put' ? (JSON.parse(ev.value) as Firing) : null);
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { close };
}

/** A task's newest run records read for its last outcome: its newest finished run is among them unless this many are in flight. */
export const NEWEST_RUNS_READ = 3;

/**
 * The run records a task list needs to start from, not the whole history (runs.keep per task,
 * 100 by default, each with its output's tail): the keys alone, a page at a time at one
 * revision, then the values of each task's NEWEST_RUNS_READ newest, in transactions. Values are
 * read after the keys (at a later revision): the watch replays every change from the keys'
 * revision on, and the consumer keeps the newest by key.
 */
async function newestRuns(h: EtcdHandle, each: (page: Kv[], revision: number) => boolean): Promise<number> {
  const revision = Number((await h.ns.get(K.runs).exec()).header.revision);
  const newest = new Map<string, string[]>();
  const end = prefixEnd(K.runs);
  for (let from = K.runs; ; ) {
    const keys = await h.ns.getAll().inRange({ start: from, end }).revision(revision).limit(10_000).keys();
    for (const key of keys) {
      const rel = key.slice(K.runs.length);
      const taskId = rel.slice(0, rel.indexOf('/'));
      const held = newest.get(taskId);
      if (!held) newest.set(taskId, [key]);
      else {
        held.push(key); // keys come in order: the newest last
        if (held.length > NEWEST_RUNS_READ) held.shift();
      }
    }
    if (keys.length < 10_000) break;
    from = keys[keys.length - 1]! + '\0';
  }
  const wanted = [...newest.values()].flat();
  newest.clear();
  for (const pack of packWithin(wanted, () => [1], [Math.min(h.maxTxnOps, 512)])) {
    const r = await h.ns.if(K.runs, 'Version', '>', -1).then(...pack.map((k) => readOp(h, k))).commit();
    // A transaction's ranges answer with the whole key: named here as the watch names them.
    const page = pack.flatMap((key, i) => {
      const kv = r.responses[i]?.response_range?.kvs[0];
      return kv ? [{ ...toKv(kv), key }] : [];
    });
    if (!each(page, revision)) break;
  }
  return revision;
}
