/**
 * A qschedule job as its API shows it, from a Rota task, its newest run and its next instant.
 * Pure. Times are epoch milliseconds, as qschedule wrote them.
 *   appId        a stable number per app (tenant), from its name
 *   recover      retry when a lost run is retried (policies.onLost), else discard
 *   loadBalance  the placement strategy; timeout policies.timeoutMs (0 = none)
 *   lastState    0 never ran, 100 running, 200 succeeded, 500 failed / lost / expired / killed
 *   desc         the task's label `desc`
 */
import { createHash } from 'node:crypto';
import type { Run, Task } from '../../../domain/task.js';

export function appIdOf(tenant: string): number {
  return createHash('sha256').update(tenant).digest().readUInt32BE(0) % 1_000_000_000;
}

const STATE_CODE: Partial<Record<Run['state'], number>> = { running: 100, succeeded: 200, failed: 500, lost: 500, expired: 500, killed: 500 };

/** The newest run that started (skipped and pending runs never did). */
export function lastStarted(runs: Run[]): Run | undefined {
  return runs.find((r) => r.startedMs !== undefined && STATE_CODE[r.state] !== undefined);
}

export function presentJob(task: Task, last: Run | undefined, nextMs: number | null, nowMs: number): Record<string, unknown> {
  const p = task.policies;
  return {
    appId: appIdOf(task.tenant),
    appName: task.tenant,
    consecutiveFailTimesAlertThreshold: p.alertAfterFailures ?? 0,
    cron: 'cron' in task.schedule ? task.schedule.cron : '',
    desc: task.labels?.desc ?? '',
    lastDuration: last?.startedMs !== undefined ? Math.max(0, (last.endedMs ?? nowMs) - last.startedMs) : 0,
    lastRun: last?.startedMs ?? 0,
    lastState: last ? STATE_CODE[last.state] ?? 0 : 0,
    lastUpdate: task.updatedMs,
    loadBalance: task.placement.strategy,
    name: task.name,
    nextRun: nextMs ?? 0,
    recover: p.onLost === 'retry' ? 'retry' : 'discard',
    state: task.enabled,
    timeout: p.timeoutMs ?? 0,
    type: 'remote',
  };
}
