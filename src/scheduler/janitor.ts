import type { RunStore } from '../store/run-store.js';
import type { EventStore } from '../store/event-store.js';
import type { TaskStore } from '../store/task-store.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';

export interface JanitorBounds {
  runsKeep: number;
  runsMaxAgeMs: number;
  eventsKeep: number;
  eventsMaxAgeMs: number;
}

/**
 * The leader's sweep that keeps etcd bounded: run history beyond the count or age limits
 * (including records written before the limits were lowered, and those of deleted tasks)
 * and audit events beyond theirs.
 */
export async function sweep(stores: { runs: RunStore; events: EventStore; tasks: TaskStore }, b: JanitorBounds, clock: Clock, log: Logger): Promise<{ runs: number; events: number }> {
  const now = clock.now();
  let runs = 0;
  const live = new Set((await stores.tasks.list()).map((t) => t.id));
  for (const id of await stores.runs.taskIdsWithRuns()) {
    if (!live.has(id)) {
      await stores.runs.deleteForTask(id);
      continue;
    }
    runs += await stores.runs.prune(id, b.runsKeep, b.runsMaxAgeMs, now);
  }
  const events = await stores.events.prune(b.eventsKeep, b.eventsMaxAgeMs, now);
  if (runs || events) log.info({ runs, events }, 'janitor pruned history');
  return { runs, events };
}
