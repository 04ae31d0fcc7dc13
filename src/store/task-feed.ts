import type { EtcdHandle } from './etcd.js';
import { K, parseFiringKey } from './keys.js';
import { watchPrefix, type KvEvent, type PrefixWatch } from './watch.js';
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
 * Task definitions, run records and firings, each listed a page at a time and then watched:
 * the feed behind a task listing that answers from memory (sort by last outcome, "running
 * now") rather than scanning etcd per request. Close it when nobody reads the listing: at
 * 1,000 firings/s the run and firing watches carry a few thousand events a second.
 */
export async function openTaskFeed(h: EtcdHandle, log: Logger, to: TaskFeedConsumer): Promise<{ close(): Promise<void> }> {
  const watches: PrefixWatch[] = [];
  const close = async () => void (await Promise.all(watches.splice(0).map((w) => w.close())));
  const open = async (prefix: string, part: 'tasks' | 'runs' | 'firings', event: (ev: KvEvent, rel: string) => void) =>
    watches.push(await watchPrefix(h, prefix, { reset: () => to.reset(part), synced: () => to.synced(part), event: (ev) => event(ev, ev.key.slice(prefix.length)) }, log, { paged: true }));
  try {
    await open(K.tasks, 'tasks', (ev, id) => to.task(id, ev.type === 'put' ? (JSON.parse(ev.value) as Task) : null, ev.value, ev.modRevision));
    await open(K.runs, 'runs', (ev, rel) => to.run(rel.slice(0, rel.indexOf('/')), rel, ev.type === 'put' ? (JSON.parse(ev.value) as Run) : null));
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
