/**
 * GET /proc's shapes, from a task, its live firings and its newest runs. Pure. Times leave here
 * as unix seconds, as Meproc wrote them.
 */
import type { Firing } from '../../../domain/firing.js';
import type { Run, Task } from '../../../domain/task.js';
import { statusOf, type ReplicaStatus } from '../../../service/replica-service.js';
import { procDefinition } from './translate.js';

/** One entry of `running`: a live process of a replica. */
export interface ProcRunning {
  command: string;
  pid: number;
  alias: string;
  node: string | null;
}

export const unixSec = (ms: number): number => Math.floor(ms / 1000);

const newest = (xs: (number | undefined)[]): number => xs.reduce<number>((m, x) => (x !== undefined && x > m ? x : m), 0);

/**
 * Meproc's bookkeeping:
 *   running    replicas with a live process (or one being started)
 *   run_flag   some replica waits to be launched (deps busy, no node yet, a retry due)
 *   last_time  the last real launch: the newest start of a run or a live firing
 *   start_time the last attempt: that, or a firing made (even one still waiting) or skipped
 * 0 when there was none, like Meproc before a task's first start.
 */
export function procBookkeeping(replicas: ReplicaStatus[], firings: Firing[], runs: Run[]): Record<string, unknown> {
  const launched = newest([...firings.map((f) => f.startedMs), ...runs.map((r) => r.startedMs)]);
  const attempted = Math.max(launched, newest([...firings.map((f) => f.scheduledMs), ...runs.map((r) => r.scheduledMs)]));
  return {
    last_time: launched ? unixSec(launched) : 0,
    start_time: attempted ? unixSec(attempted) : 0,
    run_flag: replicas.some((r) => r.state === 'pending'),
    running: replicas.filter((r) => r.state === 'running').length,
  };
}

/** The task's entry under `tasks`, and its live processes for `running`. */
export function presentProcTask(task: Task, firings: Firing[], runs: Run[]): { entry: Record<string, unknown>; running: ProcRunning[] } {
  const replicas = statusOf(task, firings);
  const command = 'process' in task.action ? task.action.process.command : '';
  const running = replicas
    .filter((r) => r.state === 'running' && r.pid !== undefined)
    .map((r) => ({ command, pid: r.pid!, alias: r.alias, node: r.node ?? null }));
  return { entry: { ...procDefinition(task), ...procBookkeeping(replicas, firings, runs) }, running };
}
