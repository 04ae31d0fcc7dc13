/**
 * schedule-api's bodies onto the one task model, and back. An identity is a group of tasks
 * (GroupService), one task per entry:
 *   name      `${identity}.${entry}` (unique in the tenant; the entry key is also kept in a label)
 *   enabled   start
 *   schedule  {cron: cron_time, tz: time_zone}          6 fields, seconds first
 *   action    {http: {url, method: POST, headers, body: {json: body}}}   no body: none is sent
 *   policies  Rota's defaults (missed firings are made up by misfire run-all; the original lost them)
 * Pure: no I/O, no clock.
 */
import { RotaError } from '../../../domain/errors.js';
import { isValidTimeZone, parseCron } from '../../../domain/cron.js';
import type { Task } from '../../../domain/task.js';
import type { TaskInput } from '../../../service/task-input.js';
import { compileValidator } from '../../validate.js';

/** Labels the dialect keeps on each entry's task. */
export const ENTRY_LABEL = 'schedule-api.entry';
/** The url as the client wrote it (the stored one is normalised, e.g. a trailing '/' added). */
export const URL_LABEL = 'schedule-api.url';

/** What Go's zero time.Time marshals to: the original's next_date/last_date when there is none. */
export const ZERO_DATE = '0001-01-01T00:00:00Z';

export interface EntryBody {
  cron_time: string;
  url: string;
  headers?: Record<string, string> | null;
  body?: unknown;
}

export interface PutBody {
  identity: string;
  time_zone: string;
  start: boolean;
  entries: Record<string, EntryBody>;
}

export const PUT_FIELDS = ['identity', 'time_zone', 'start', 'entries'] as const;
export const ENTRY_FIELDS = ['cron_time', 'url', 'headers', 'body'] as const;

/** Task names are at most 200 characters: identity + '.' + entry key. */
const identity = { type: 'string', minLength: 1, maxLength: 150 };
const MAX_ENTRY_KEY = 48;
/** Entries per identity (each is a task, written one by one). */
export const MAX_ENTRIES = 100;

const EntrySchema = {
  type: 'object',
  required: ['cron_time', 'url'],
  properties: {
    cron_time: { type: 'string', minLength: 1, maxLength: 200 },
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    headers: { type: ['object', 'null'], maxProperties: 100, additionalProperties: { type: 'string', maxLength: 8192 } },
    body: {},
  },
};

export const validatePut = compileValidator<PutBody>({
  type: 'object',
  required: [...PUT_FIELDS],
  properties: {
    identity,
    time_zone: { type: 'string', minLength: 1, maxLength: 100 },
    start: { type: 'boolean' },
    entries: { type: 'object', maxProperties: MAX_ENTRIES, additionalProperties: EntrySchema },
  },
});

export const validateIdentity = compileValidator<{ identity: string }>({ type: 'object', required: ['identity'], properties: { identity } });

export const validateLists = compileValidator<{ identity: string[] }>({
  type: 'object',
  required: ['identity'],
  properties: { identity: { type: 'array', maxItems: 1000, items: identity } },
});

export const validateRunning = compileValidator<{ identity: string; running: boolean }>({
  type: 'object',
  required: ['identity', 'running'],
  properties: { identity, running: { type: 'boolean' } },
});

export const LOG_TYPES = ['put', 'delete', 'running', 'success', 'error'] as const;
export type LogType = (typeof LOG_TYPES)[number];

export interface SearchBody {
  identity: string;
  limit: number;
  type?: LogType | '';
  skip?: number;
  time?: { gte?: number; lte?: number };
}

export const validateSearch = compileValidator<SearchBody>({
  type: 'object',
  required: ['identity', 'limit'],
  properties: {
    identity,
    limit: { type: 'integer', minimum: 1, maximum: 100 },
    type: { enum: [...LOG_TYPES, ''] },
    skip: { type: 'integer', minimum: 0 },
    time: {
      type: ['object', 'null'],
      properties: { gte: { type: 'integer', minimum: 0 }, lte: { type: 'integer', minimum: 0 } },
    },
  },
});

/** The task name of an entry. */
export const taskName = (identity: string, entry: string): string => `${identity}.${entry}`;

/**
 * Meaning the schema cannot check, with messages naming the field: a known zone, a 6-field
 * cron (the service checks the expression again; this is for the message).
 */
export function checkPut(b: PutBody): void {
  const keys = Object.keys(b.entries);
  if (!keys.length) throw new RotaError('INVALID_BODY', 'entries: must have at least one entry');
  const bad = keys.find((k) => k.length < 1 || k.length > MAX_ENTRY_KEY);
  if (bad !== undefined) throw new RotaError('INVALID_BODY', `entries: an entry key must have 1 to ${MAX_ENTRY_KEY} characters, got '${bad}'`);
  if (!isValidTimeZone(b.time_zone)) throw new RotaError('INVALID_SCHEDULE', `time_zone: unknown time zone '${b.time_zone}'`);
  for (const [key, e] of Object.entries(b.entries)) {
    const at = `entries.${key}.cron_time`;
    const fields = e.cron_time.trim().split(/\s+/);
    if (!e.cron_time.trim().startsWith('@') && fields.length !== 6) {
      throw new RotaError('INVALID_SCHEDULE', `${at}: must have 6 fields (second minute hour day-of-month month day-of-week), got ${fields.length}`);
    }
    try {
      parseCron(e.cron_time, b.time_zone);
    } catch (err) {
      throw err instanceof RotaError ? new RotaError(err.code, `${at}: ${err.message}`) : err;
    }
  }
}

/** One task input per entry (GroupService sets the group). */
export function toEntryInputs(b: PutBody): TaskInput[] {
  return Object.entries(b.entries).map(([key, e]) => ({
    name: taskName(b.identity, key),
    enabled: b.start,
    schedule: { cron: e.cron_time, tz: b.time_zone },
    action: {
      http: {
        url: e.url,
        method: 'POST',
        headers: e.headers ?? {},
        ...(e.body !== undefined && e.body !== null ? { body: { json: e.body } } : {}),
      },
    },
    labels: { [ENTRY_LABEL]: key, [URL_LABEL]: e.url },
  }));
}

/**
 * The request as the original logged it (its TaskOption struct): only known fields, headers and
 * body null when absent, next_date/last_date Go's zero time.
 */
export function putLogBody(b: PutBody): Record<string, unknown> {
  const entries = Object.fromEntries(
    Object.entries(b.entries).map(([key, e]) => [
      key,
      { cron_time: e.cron_time, url: e.url, headers: e.headers ?? null, body: e.body ?? null, next_date: ZERO_DATE, last_date: ZERO_DATE },
    ]),
  );
  return { identity: b.identity, time_zone: b.time_zone, start: b.start, entries };
}

/** True for a task this dialect made (an entry of an identity). */
export function isEntryTask(t: Task): t is Task & { group: string } {
  return t.group !== undefined && 'http' in t.action && 'cron' in t.schedule && t.labels?.[ENTRY_LABEL] !== undefined;
}

/** The entry key of an entry task. */
export function entryKey(t: Task): string {
  return t.labels?.[ENTRY_LABEL] ?? (t.group !== undefined && t.name.startsWith(`${t.group}.`) ? t.name.slice(t.group.length + 1) : t.name);
}

/** The url as the client gave it, unless the task's url was changed since (by another API). */
export function entryUrl(t: Task): string {
  const stored = 'http' in t.action ? t.action.http.url : '';
  const given = t.labels?.[URL_LABEL];
  if (given === undefined) return stored;
  try {
    return new URL(given).toString() === stored ? given : stored;
  } catch {
    return stored;
  }
}

/** An entry's definition fields (cron_time, url, headers, body), null where none. */
export function entryDefinition(t: Task): { cron_time: string; url: string; headers: Record<string, string> | null; body: unknown } {
  const http = 'http' in t.action ? t.action.http : undefined;
  const headers = http && Object.keys(http.headers).length ? http.headers : null;
  const body = http?.body && 'json' in http.body ? http.body.json : null;
  return { cron_time: 'cron' in t.schedule ? t.schedule.cron : '', url: entryUrl(t), headers, body };
}
