/**
 * Meproc's task body onto the one task model, and back. Everything the dialect shows (type,
 * interval, cron) is derived from the stored task, so nothing of its own is kept.
 *   once   -> schedule {now: true}                  each replica runs once; PUT runs it again
 *   daemon -> schedule {daemon: true}               restarted `interval` s after each exit
 *   cron   -> schedule {cron, tz: 'UTC'}, overlap forbid (no firing while a run is alive)
 */
import type { TaskInput } from '../../../service/task-input.js';
import type { Task } from '../../../domain/task.js';
import { compileValidator } from '../../validate.js';

export type ProcType = 'once' | 'daemon' | 'cron';

/** The POST /proc body, as validated. null for an optional field means "not given". */
export interface ProcBody {
  name: string;
  cmd: string;
  type: ProcType;
  replica?: number;
  user?: string | null;
  group?: string | null;
  cron?: string | null;
  interval?: number;
  deps?: string[] | null;
}

export const DEFAULT_CRON = '* * * * *';
export const DEFAULT_INTERVAL_SEC = 3;

const optString = { type: ['string', 'null'], maxLength: 200 };

const ProcBodySchema = {
  type: 'object',
  required: ['name', 'cmd', 'type'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    cmd: { type: 'string', minLength: 1, maxLength: 65_536 },
    type: { enum: ['once', 'daemon', 'cron'] },
    replica: { type: 'integer', minimum: 1 },
    user: optString,
    group: optString,
    cron: optString,
    interval: { type: 'integer', minimum: 0, maximum: 86_400 },
    deps: { type: ['array', 'null'], maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 } },
  },
};

/** The body's fields; others are ignored, as Meproc ignored them. */
export const PROC_FIELDS = Object.keys(ProcBodySchema.properties);

/** Checks the known fields' shape; throws INVALID_BODY naming the field. Drop unknown ones first. */
export const validateProcBody = compileValidator<ProcBody>(ProcBodySchema);

/** The native task input for a validated body (meaning, e.g. the cron text, is checked by the service). */
export function toTaskInput(b: ProcBody): TaskInput {
  const interval = b.interval ?? DEFAULT_INTERVAL_SEC;
  const schedule =
    b.type === 'once' ? { now: true } : b.type === 'daemon' ? { daemon: true } : { cron: b.cron ?? DEFAULT_CRON, tz: 'UTC' };
  return {
    name: b.name,
    schedule,
    action: { process: { command: b.cmd, ...(b.user ? { user: b.user } : {}), ...(b.group ? { group: b.group } : {}) } },
    replicas: b.replica ?? 1,
    ...(b.deps?.length ? { deps: b.deps } : {}),
    policies: { restart: { delayMs: interval * 1000 }, ...(b.type === 'cron' ? { overlap: 'forbid' } : {}) },
  };
}

/** The dialect's type of a stored task (tasks made by other APIs: anything else counts as once). */
export function procTypeOf(task: Task): ProcType {
  if ('daemon' in task.schedule) return 'daemon';
  if ('cron' in task.schedule) return 'cron';
  return 'once';
}

/** The definition fields of GET /proc's task entries, derived from the task. */
export function procDefinition(task: Task): Record<string, unknown> {
  const p = 'process' in task.action ? task.action.process : undefined;
  const type = procTypeOf(task);
  return {
    name: task.name,
    cmd: p?.command ?? '',
    type,
    replica: task.replicas,
    user: p?.user ?? null,
    group: p?.group ?? null,
    deps: task.deps ?? [],
    interval: Math.round(task.policies.restart.delayMs / 1000),
    ...('cron' in task.schedule ? { cron: task.schedule.cron } : {}),
  };
}
