/**
 * The run log: the run history and the audit log read together, as the dialects' log queries
 * need them (crontab's query_task_status, schedule-api's /search, qschedule's job history).
 * Scoped to some tasks, a group or the whole tenant; filtered by kind (run states, triggers,
 * audit actions) and time; newest first; offset + limit. Both sources stay bounded as before
 * (runs.keep / runs.maxAgeMs per task, events.keep / events.maxAgeMs per tenant), so a query
 * reads at most those records.
 */
import type { AuditAction, AuditEvent } from '../domain/audit.js';
import type { Run, RunState, Task, Trigger } from '../domain/task.js';
import type { Caller, TaskService } from './task-service.js';

export type LogScope = { tasks: Task[] } | { group: string } | { tenant: true };

export interface LogQuery {
  scope: LogScope;
  /** Run states to include; undefined = every state, [] = no runs. */
  runStates?: RunState[];
  /** Triggers of the runs to include; undefined = every trigger. */
  triggers?: Trigger[];
  /** Audit actions to include; undefined = every action, [] = no events. */
  events?: AuditAction[];
  /** Only runs on this node (audit events, about tasks rather than nodes, are left out). */
  node?: string;
  /** Inclusive bounds on each entry's time (epoch ms). */
  fromMs?: number;
  toMs?: number;
  offset?: number;
  limit: number;
}

export type LogEntry =
  | { kind: 'run'; atMs: number; run: Run; task: Pick<Task, 'id' | 'name'> & { group?: string } }
  | { kind: 'event'; atMs: number; event: AuditEvent };

export interface LogPage {
  /** Entries matching the query, before offset and limit. */
  total: number;
  items: LogEntry[];
}

/** When a run entered the log as it stands: its end, else its start, else its scheduled time. */
export const runTimeMs = (r: Run): number => r.endedMs ?? r.startedMs ?? r.scheduledMs;

/** Up to this many tasks in scope are read a task at a time; more, and all runs are read at once. */
const PER_TASK_READS = 50;

const within = (ms: number, q: LogQuery): boolean => (q.fromMs === undefined || ms >= q.fromMs) && (q.toMs === undefined || ms <= q.toMs);

export class RunLogService {
  constructor(private readonly service: TaskService) {}

  /** The tenant's tasks the scope covers. */
  private async scopeTasks(c: Caller, scope: LogScope): Promise<Task[]> {
    if ('tasks' in scope) return scope.tasks.filter((t) => t.tenant === c.tenant);
    return this.service.listAll(c, 'group' in scope ? { group: scope.group } : {});
  }

  private eventInScope(e: AuditEvent, scope: LogScope, ids: Set<string>): boolean {
    if ('tenant' in scope) return true;
    if ('group' in scope) return e.group === scope.group;
    return e.taskId !== undefined && ids.has(e.taskId);
  }

  async query(c: Caller, q: LogQuery): Promise<LogPage> {
    const tasks = await this.scopeTasks(c, q.scope);
    const ids = new Set(tasks.map((t) => t.id));
    const entries: LogEntry[] = [];
    if (!q.runStates || q.runStates.length) {
      const now = this.service.now();
      // A few tasks: their runs, a read each; many (a tenant, a big group): every run in two reads.
      const all = tasks.length > PER_TASK_READS ? await this.service.history.runsByTask() : null;
      const perTask = await Promise.all(tasks.map(async (t) => ({ t, runs: all ? (all.get(t.id) ?? []) : await this.service.history.runsOf(t.id) })));
      for (const { t, runs } of perTask) {
        const task = { id: t.id, name: t.name, ...(t.group !== undefined ? { group: t.group } : {}) };
        for (const stored of runs) {
          if (stored.tenant !== c.tenant) continue;
          const run = notStartedYet(stored, now);
          if (q.runStates && !q.runStates.includes(run.state)) continue;
          if (q.triggers && !q.triggers.includes(run.trigger)) continue;
          if (q.node !== undefined && run.node !== q.node) continue;
          const atMs = runTimeMs(run);
          if (within(atMs, q)) entries.push({ kind: 'run', atMs, run, task });
        }
      }
    }
    if ((!q.events || q.events.length) && q.node === undefined) {
      for (const event of await this.service.history.events(c.tenant, q.fromMs, q.toMs)) {
        if (q.events && !q.events.includes(event.action)) continue;
        if (this.eventInScope(event, q.scope, ids)) entries.push({ kind: 'event', atMs: event.atMs, event });
      }
    }
    // Newest first; ties: events after runs of the same instant, then by id, for a stable order.
    entries.sort((a, b) => b.atMs - a.atMs || keyOf(b).localeCompare(keyOf(a)));
    const offset = Math.max(0, q.offset ?? 0);
    return { total: entries.length, items: entries.slice(offset, offset + q.limit) };
  }

  /**
   * Clears the scope's log: the run history of its tasks and its audit events. Runs in flight
   * write their record when they end, so they reappear then. Returns how many events went.
   */
  async clear(c: Caller, scope: LogScope): Promise<{ tasks: number; events: number }> {
    const tasks = await this.scopeTasks(c, scope);
    const ids = new Set(tasks.map((t) => t.id));
    for (const t of tasks) await this.service.history.deleteRunsOf(t.id);
    const doomed = (await this.service.history.events(c.tenant)).filter((e) => this.eventInScope(e, scope, ids)).map((e) => e.id);
    await this.service.history.deleteEvents(c.tenant, doomed);
    return { tasks: tasks.length, events: doomed.length };
  }
}

/**
 * A firing claimed ahead of its instant has a `running` record whose start is still to come:
 * until then it is pending (it may yet be skipped, if the task is paused, say).
 */
function notStartedYet(r: Run, nowMs: number): Run {
  if (r.state !== 'running' || r.startedMs === undefined || r.startedMs <= nowMs) return r;
  const { startedMs: _s, ...rest } = r;
  return { ...rest, state: 'pending' };
}

function keyOf(e: LogEntry): string {
  return e.kind === 'run' ? `r${e.run.id}` : `e${e.event.id}`;
}
