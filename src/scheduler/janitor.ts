import { RunStore } from '../store/run-store.js';
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
  // Runs first: a task created after this listing has none in it, so none of its runs can be
  // taken for an orphan's. Ids only: the definitions (100k of them at scale) are not read.
  // Only tasks over a bound cost a call: at 100k tasks, two calls each were 200k every sweep.
  const withRuns = await stores.runs.runCounts();
  const live = new Set(await stores.tasks.allIds());
  for (const [id, seen] of withRuns) {
    if (!live.has(id)) {
      await stores.runs.deleteForTask(id);
      continue;
    }
    if (RunStore.overBounds(id, seen, b.runsKeep, b.runsMaxAgeMs, now)) runs += await stores.runs.prune(id, b.runsKeep, b.runsMaxAgeMs, now);
  }
  const events = await stores.events.prune(b.eventsKeep, b.eventsMaxAgeMs, now);
  if (runs || events) log.info({ runs, events }, 'janitor pruned history');
  return { runs, events };
}
