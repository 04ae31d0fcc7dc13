/**
 * Juice's answers, from a task, its live firing and its newest run (pure). Times leave here as
 * Juice (Java's default date format) wrote them, in UTC: "Dec 8, 2016 4:03:08 PM".
 */
import { JUICE_STATUS, juiceStatus, type JuiceStatusName } from './status.js';
import type { Firing } from '../../../domain/firing.js';
import type { Run, Task } from '../../../domain/task.js';
import { LABEL } from './translate.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export function javaDate(ms: number | undefined): string | null {
  if (ms === undefined) return null;
  const d = new Date(ms);
  const h = d.getUTCHours();
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()} ${h % 12 || 12}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

export interface Progress {
  firing: Firing | null;
  newest: Run | null;
}

export function statusName(task: Task, p: Progress, nowMs: number): JuiceStatusName {
  return juiceStatus(p.firing, p.newest, nowMs, !task.enabled);
}

/** What the status says in words when the run itself has no message. */
function messageOf(name: JuiceStatusName, p: Progress, task: Task): string {
  if (p.newest?.message && !p.firing) return p.newest.message;
  if (name === 'NOT_START') {
    const r = task.placement.requests;
    return `waiting for a node that can take it${r ? ` (cpu ${r.cpu ?? 0}, mem ${r.memMb ?? 0} MB)` : ''}`;
  }
  if (name === 'STAGING') return p.firing?.state === 'retry-wait' ? 'waiting to be retried' : `staged on node ${p.firing?.node ?? ''}`.trim();
  if (name === 'RUNNING') return `running on node ${p.firing?.node ?? ''}`.trim();
  return p.newest?.message ?? '';
}

export function presentTask(task: Task, p: Progress, nowMs: number): Record<string, unknown> {
  const name = statusName(task, p, nowMs);
  const a = task.action;
  return {
    taskId: Number(task.id),
    taskName: task.labels?.[LABEL.taskName] ?? task.name,
    tenantId: task.tenant,
    ...('container' in a ? { dockerImage: a.container.image } : {}),
    ...('process' in a ? { commands: a.process.command } : {}),
    taskStatus: JUICE_STATUS[name],
    message: messageOf(name, p, task),
    submitAt: javaDate(task.createdMs),
    callbackAt: javaDate(p.newest?.callbackMs),
    callbackUrl: task.callback?.url ?? null,
    ...(task.labels?.[LABEL.priority] !== undefined ? { priority: Number(task.labels[LABEL.priority]) } : {}),
  };
}
