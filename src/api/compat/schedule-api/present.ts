/**
 * schedule-api's answers: an identity's data (/get, /lists) and the log as the Elasticsearch
 * search response the original handed through (/search). Pure. Times leave here as the original
 * wrote them: dates as Go's RFC 3339 in the identity's zone, log times as unix seconds.
 */
import type { AuditEvent } from '../../../domain/audit.js';
import { intlOffset } from '../../../domain/cron.js';
import type { Run, Task } from '../../../domain/task.js';
import type { LogEntry } from '../../../service/run-log.js';
import { entryDefinition, entryKey, ZERO_DATE, type LogType } from './translate.js';

/** The index name the original's logs lived in (its default_index). */
export const LOG_INDEX = 'schedule-service';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `ms` as Go's time.Time JSON in zone `tz`: "2019-11-27T16:58:30+08:00", "...Z" at offset 0. */
export function goDate(ms: number | null, tz: string): string {
  if (ms === null) return ZERO_DATE;
  const whole = Math.floor(ms / 1000) * 1000;
  const wallMs = whole + intlOffset(tz, whole);
  const offsetMin = Math.round((wallMs - whole) / 60_000);
  const frac = ms - whole ? `.${pad(ms - whole, 3).replace(/0+$/, '')}` : '';
  const wall = new Date(wallMs);
  const text = `${pad(wall.getUTCFullYear(), 4)}-${pad(wall.getUTCMonth() + 1)}-${pad(wall.getUTCDate())}T${pad(wall.getUTCHours())}:${pad(wall.getUTCMinutes())}:${pad(wall.getUTCSeconds())}${frac}`;
  if (offsetMin === 0) return `${text}Z`;
  const a = Math.abs(offsetMin);
  return `${text}${offsetMin < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

export type Instants = Map<string, { lastMs: number | null; nextMs: number | null }>;

/** /get's data for an identity's entry tasks (at least one). */
export function presentIdentity(identity: string, tasks: Task[], instants: Instants): Record<string, unknown> {
  const first = tasks[0]!;
  const tz = 'cron' in first.schedule ? first.schedule.tz : 'UTC';
  const entries: Record<string, unknown> = {};
  for (const t of tasks) {
    const at = instants.get(t.id);
    const zone = 'cron' in t.schedule ? t.schedule.tz : tz;
    entries[entryKey(t)] = { ...entryDefinition(t), next_date: goDate(at?.nextMs ?? null, zone), last_date: goDate(at?.lastMs ?? null, zone) };
  }
  return { identity, time_zone: tz, start: tasks.every((t) => t.enabled), entries };
}

/** The log type of an audit action or a run state; null for records the dialect does not show. */
export function logTypeOf(e: LogEntry): LogType | null {
  if (e.kind === 'event') {
    const a = e.event.action;
    return a === 'group-put' ? 'put' : a === 'group-delete' ? 'delete' : a === 'group-enable' || a === 'group-disable' ? 'running' : null;
  }
  const s = e.run.state;
  return s === 'succeeded' ? 'success' : s === 'failed' || s === 'killed' || s === 'lost' || s === 'expired' ? 'error' : null;
}

/** The body of a firing's log, as the original's RecordSuccess / RecordError (entry from its current definition). */
function runLogBody(run: Run, task: Task | undefined, success: boolean): Record<string, unknown> {
  const def = task ? entryDefinition(task) : { url: null, headers: null, body: null };
  const base = { key: task ? entryKey(task) : null, url: def.url, header: def.headers, body: def.body, status: run.httpStatus ?? null };
  return success ? { ...base, response: run.outputTail ?? '' } : { ...base, message: [run.message ?? run.state] };
}

function sourceOf(e: LogEntry, identity: string, tasks: Map<string, Task>): Record<string, unknown> {
  const type = logTypeOf(e);
  const time = Math.floor(e.atMs / 1000);
  if (e.kind === 'event') return { type, identity, body: eventBody(e.event, identity), time };
  return { type, identity, body: runLogBody(e.run, tasks.get(e.task.id), type === 'success'), time };
}

function eventBody(ev: AuditEvent, identity: string): unknown {
  return ev.detail ?? { identity };
}

/** The Elasticsearch 7 search response the original answered /search with (data of the envelope). */
export function presentSearch(items: LogEntry[], total: number, identity: string, tasks: Map<string, Task>): Record<string, unknown> {
  const hits = items.map((e) => {
    const source = sourceOf(e, identity, tasks);
    return { _index: LOG_INDEX, _type: '_doc', _id: e.kind === 'event' ? `e${e.event.id}` : `r${e.run.id}`, _score: null, _source: source, sort: [source.time] };
  });
  return {
    took: 0,
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: { total: { value: total, relation: 'eq' }, max_score: null, hits },
  };
}
