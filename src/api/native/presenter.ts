/**
 * Records as the native API shows them: the stored shape (epoch ms) plus ISO 8601 companions
 * (createdMs -> createdAt, schedule.atMs -> schedule.at, ...). Input takes them off again.
 */
import type { InflightEntry } from '../../service/cluster-service.js';
import type { ReplicaStatus } from '../../service/replica-service.js';
import type { ListedTask } from '../../service/task-index.js';
import { RotaError } from '../../domain/errors.js';
import type { Run, Task } from '../../domain/task.js';
import type { AuditEvent } from '../../domain/audit.js';

/** ISO text for epoch ms; undefined for instants a Date cannot show. */
export function isoOf(ms: number | undefined): string | undefined {
  if (ms === undefined) return undefined;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/** Adds `${name}At` after each `${name}Ms` present in `o`. */
function withIso<T extends object>(o: T, names: string[]): T & Record<string, string> {
  const out: Record<string, unknown> = { ...(o as Record<string, unknown>) };
  for (const n of names) {
    const at = isoOf(out[`${n}Ms`] as number | undefined);
    if (at !== undefined) out[`${n}At`] = at;
  }
  return out as T & Record<string, string>;
}

export function presentTask(t: Task): Record<string, unknown> {
  const schedule = 'atMs' in t.schedule ? { ...t.schedule, ...(isoOf(t.schedule.atMs) ? { at: isoOf(t.schedule.atMs) } : {}) } : t.schedule;
  return withIso({ ...t, schedule }, ['created', 'updated']);
}

/** A task as the list shows it: with its newest finished run and its runs in flight. */
export function presentListedTask(l: ListedTask): Record<string, unknown> {
  return { ...presentTask(l.task), lastRun: l.lastRun && withIso(l.lastRun, ['ended']), running: l.running };
}

export function presentRun(r: Run): Record<string, unknown> {
  return withIso(r, ['scheduled', 'started', 'ended', 'callback']);
}

export function presentInflight(i: InflightEntry): Record<string, unknown> {
  return withIso(i, ['scheduled', 'started']);
}

export function presentReplica(r: ReplicaStatus): Record<string, unknown> {
  return withIso(r, ['started']);
}

export function presentEvent(e: AuditEvent): Record<string, unknown> {
  return { ...e, ...(isoOf(e.atMs) ? { at: isoOf(e.atMs) } : {}) };
}

/** Fields a client got from GET that are not part of the input (server-made, ISO companions, what the list adds). */
export const SERVER_FIELDS = ['id', 'tenant', 'createdMs', 'updatedMs', 'createdAt', 'updatedAt', 'lastRun', 'running'];

/**
 * Takes the presenter's additions off a PUT/PATCH body, so GET -> PUT round-trips. An id or
 * tenant that disagrees with the target is refused rather than silently ignored.
 */
export function stripPresented(body: Record<string, unknown>, target: { id: string; tenant: string }): Record<string, unknown> {
  const out = { ...body };
  for (const k of ['id', 'tenant'] as const) {
    if (out[k] !== undefined && out[k] !== target[k]) return badField(k, out[k], target[k]);
  }
  for (const k of SERVER_FIELDS) delete out[k];
  const s = out.schedule;
  if (s && typeof s === 'object' && !Array.isArray(s) && 'atMs' in s && 'at' in s) {
    const { at: _at, ...rest } = s as Record<string, unknown>;
    out.schedule = rest;
  }
  return out;
}

function badField(k: string, got: unknown, want: string): never {
  throw new RotaError('INVALID_BODY', `${k}: '${String(got)}' does not match the task being updated ('${want}')`);
}
