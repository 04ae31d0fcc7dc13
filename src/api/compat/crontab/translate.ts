/**
 * The crontab server's task items onto the one task model. Pure: the caller passes "now".
 *   type 1 (single)  start_time a unix timestamp (s)  -> schedule {at}; a past one: a moment from now
 *                    start_time a cron / @every       -> schedule {at} = its next occurrence, once
 *   types 2-7        start_time a cron (6 fields, seconds first; 5 fields and @macros too)
 *                                                     -> schedule {cron, tz: 'UTC'}
 *                    '@every 30s' (Go duration), or a bare number of seconds for type 2
 *                                                     -> schedule {every}
 *   method post/get  -> action.http to url, expectStatus [200], bodyRegex = resp_regexp;
 *                       body_type 2 with a JSON object body -> body {form: its fields}
 *   method rpc       -> action.jsonrpc: a JSON-RPC 2.0 call to http://addr:port/, method
 *                       Handler.Func (url addr:port/Handler.Func); success = HTTP 2xx with a
 *                       `result` and no `error`, and the body matching resp_regexp when set
 *   redo_param       -> policies.retry.delaysMs
 * The item's own fields are kept as labels `crontab.<field>`, so update_task can rebuild the
 * schedule or the action from the fields it was not given.
 */
import { RotaError } from '../../../domain/errors.js';
import { parseDurationMs } from '../../../domain/duration.js';
import { nextFire } from '../../../domain/schedule.js';
import type { Task } from '../../../domain/task.js';
import type { TaskInput } from '../../../service/task-input.js';
import { redoDelaysMs, type CrontabItem, type CrontabMethod } from './item.js';

export const TYPE_SINGLE = 1;
export const TYPE_INTERVAL = 2;
const TYPE_NAMES = ['single', 'interval', 'hour', 'daily', 'month', 'year', 'week'];

/** A one-shot time that is past (or too close to be written before it passes) fires this long after now. */
export const ONE_SHOT_LEAD_MS = 1_000;

/** Labels the dialect keeps its fields in. */
export const LABEL = {
  type: 'crontab.type',
  module: 'crontab.module',
  startTime: 'crontab.start_time',
  method: 'crontab.method',
  url: 'crontab.url',
  body: 'crontab.body',
  bodyType: 'crontab.body_type',
  respRegexp: 'crontab.resp_regexp',
  redoParam: 'crontab.redo_param',
} as const;

const bad = (msg: string): RotaError => new RotaError('INVALID_BODY', msg);

/** '@every 1m30s' -> ms; a Go duration needs a unit. undefined when the text is no @every. */
function everyMs(startTime: string): number | undefined {
  const m = /^@every\s+(\S+)$/i.exec(startTime);
  if (!m) return undefined;
  const d = m[1]!;
  let ms = NaN;
  try {
    if (!/^\d+(\.\d+)?$/.test(d)) ms = parseDurationMs(d); // a Go duration needs a unit
  } catch {
    /* NaN: refused below */
  }
  if (!Number.isFinite(ms) || ms < 1_000) throw new RotaError('INVALID_SCHEDULE', `start_time '${startTime}': the interval must be a duration of at least 1s, e.g. '@every 30s', '@every 1h30m'`);
  return ms;
}

/** The next occurrence of a cron start_time strictly after afterMs (UTC); a bad one names the field. */
function cronNext(startTime: string, afterMs: number): number | null {
  try {
    return nextFire({ cron: startTime, tz: 'UTC' }, afterMs, afterMs);
  } catch (e) {
    throw e instanceof RotaError ? new RotaError(e.code, `start_time '${startTime}': ${e.message}`) : e;
  }
}

/** The one instant a single (type 1) task fires at. */
function singleAtMs(startTime: string, nowMs: number): number {
  const soonest = nowMs + ONE_SHOT_LEAD_MS;
  if (/^\d+$/.test(startTime)) return Math.max(Number(startTime) * 1000, soonest);
  const every = everyMs(startTime);
  if (every !== undefined) return Math.max(nowMs + every, soonest);
  const next = cronNext(startTime, soonest - 1);
  if (next === null) throw new RotaError('INVALID_SCHEDULE', `start_time '${startTime}' never occurs`);
  return next;
}

/** The native schedule of a type and start_time. */
export function toSchedule(type: number, startTime: string, nowMs: number): Record<string, unknown> {
  if (type === TYPE_SINGLE) return { at: singleAtMs(startTime, nowMs) };
  if (/^\d+$/.test(startTime)) {
    if (type !== TYPE_INTERVAL) throw new RotaError('INVALID_SCHEDULE', `start_time '${startTime}': a bare number of seconds is only for type 2 (interval); type ${type} (${TYPE_NAMES[type - 1]}) takes a cron expression`);
    return { every: Number(startTime) * 1000 };
  }
  const every = everyMs(startTime);
  if (every !== undefined) return { every };
  cronNext(startTime, nowMs); // validates
  return { cron: startTime, tz: 'UTC' };
}

const CONTENT_TYPE = { 1: 'application/json', 2: 'application/x-www-form-urlencoded' } as const;

function httpUrl(url: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `http://${url}`;
  try {
    const u = new URL(withScheme);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    return u.toString();
  } catch {
    throw new RotaError('INVALID_ACTION', `url must be an http or https URL (or addr:port/path), got '${url}'`);
  }
}

/** 'addr:port/Handler.Func' -> the endpoint and the method name. */
export function rpcTarget(url: string): { endpoint: string; method: string } {
  const m = /^(?:(https?):\/\/)?([^/\s]+)\/([^/\s]+)$/i.exec(url);
  if (!m) throw new RotaError('INVALID_ACTION', `for method rpc, url must be addr:port/Handler.Func, got '${url}'`);
  return { endpoint: httpUrl(`${m[1] ?? 'http'}://${m[2]}/`), method: m[3]! };
}

/** JSON-RPC params from the body: its JSON when it is an object or array, a scalar wrapped in [ ]; non-JSON: none. */
function rpcParams(body: string | undefined): unknown {
  if (body === undefined || body.trim() === '') return undefined;
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' ? v : [v];
  } catch {
    return undefined;
  }
}

/**
 * A form body (body_type 2) as the original sent it: a body whose text is a JSON object goes as
 * that object's fields, `{"x":"1","y":2}` -> `x=1&y=2` (strings as they are, numbers and
 * booleans as their text, null as "", a nested object or array as its JSON text). undefined
 * for any other body, which is sent as it is (`a=1&b=2` already is a form).
 */
export function formFields(body: string): Record<string, string> | undefined {
  if (!/^\s*\{/.test(body)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const text = (x: unknown): string => (typeof x === 'string' ? x : x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, text(x)]));
}

export interface ActionFields {
  method: CrontabMethod;
  url: string;
  body?: string;
  bodyType?: 1 | 2;
  respRegexp?: string;
}

/** The native action of an item's callback fields. */
export function toAction(f: ActionFields): Record<string, unknown> {
  const check = { expectStatus: [200], ...(f.respRegexp ? { bodyRegex: f.respRegexp } : {}) };
  if (f.method === 'rpc') {
    const { endpoint, method } = rpcTarget(f.url);
    const params = rpcParams(f.body);
    return { jsonrpc: { url: endpoint, method, headers: {}, ...(params !== undefined ? { params } : {}), ...(f.respRegexp ? { bodyRegex: f.respRegexp } : {}) } };
  }
  const bodyType = f.bodyType ?? 1;
  const text = f.body ?? '';
  const fields = bodyType === 2 && text !== '' ? formFields(text) : undefined;
  if (f.method === 'get' && bodyType === 2 && text !== '') {
    // A form body on GET goes into the query string.
    const query = fields ? new URLSearchParams(fields).toString() : text.replace(/^[?&]/, '');
    const u = new URL(httpUrl(f.url));
    if (query) u.search = u.search ? `${u.search}&${query}` : `?${query}`;
    return { http: { url: u.toString(), method: 'GET', headers: {}, ...check } };
  }
  const body = fields ? { body: { form: fields } } : text !== '' ? { body: { raw: text, contentType: CONTENT_TYPE[bodyType] } } : {};
  return { http: { url: httpUrl(f.url), method: f.method.toUpperCase(), headers: {}, ...body, ...check } };
}

/** The retry policy of a redo_param. */
function retryOf(redo: string | undefined): Record<string, unknown> {
  const delaysMs = redo === undefined ? [] : redoDelaysMs(redo);
  return delaysMs.length ? { delaysMs } : {};
}

/** The item's fields as labels (only the given ones). */
function labelsOf(item: CrontabItem): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (k: string, v: string | number | undefined) => {
    if (v !== undefined) out[k] = String(v);
  };
  put(LABEL.type, item.type);
  put(LABEL.module, item.module);
  put(LABEL.startTime, item.startTime);
  put(LABEL.method, item.method);
  put(LABEL.url, item.url);
  put(LABEL.body, item.body);
  put(LABEL.bodyType, item.bodyType);
  put(LABEL.respRegexp, item.respRegexp);
  put(LABEL.redoParam, item.redoParam);
  return out;
}

function required<T>(v: T | undefined, field: string): T {
  if (v === undefined) throw bad(`${field} is required`);
  return v;
}

/** add_task: the native input of an item. */
export function toTaskInput(item: CrontabItem, nowMs: number): TaskInput {
  const name = required(item.name, 'name');
  const type = required(item.type, 'type');
  const startTime = required(item.startTime, 'start_time');
  const action = toAction({ method: required(item.method, 'method'), url: required(item.url, 'url'), body: item.body, bodyType: item.bodyType, respRegexp: item.respRegexp });
  return {
    name,
    enabled: item.enable ?? true,
    schedule: toSchedule(type, startTime, nowMs),
    action,
    policies: { retry: retryOf(item.redoParam) },
    labels: labelsOf(item),
  };
}

/** The dialect's fields of a stored task, read back from its labels. */
export function storedItem(task: Task): CrontabItem {
  const l = task.labels ?? {};
  const item: CrontabItem = { taskId: task.id, name: task.name, enable: task.enabled };
  if (l[LABEL.type]) item.type = Number(l[LABEL.type]);
  if (l[LABEL.module] !== undefined) item.module = l[LABEL.module];
  if (l[LABEL.startTime]) item.startTime = l[LABEL.startTime];
  if (l[LABEL.method]) item.method = l[LABEL.method] as CrontabMethod;
  if (l[LABEL.url]) item.url = l[LABEL.url];
  if (l[LABEL.body] !== undefined) item.body = l[LABEL.body];
  if (l[LABEL.bodyType]) item.bodyType = Number(l[LABEL.bodyType]) as 1 | 2;
  if (l[LABEL.respRegexp] !== undefined) item.respRegexp = l[LABEL.respRegexp];
  if (l[LABEL.redoParam] !== undefined) item.redoParam = l[LABEL.redoParam];
  return item;
}

const given = (o: CrontabItem): CrontabItem => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as CrontabItem;

/**
 * update_task: the fields to merge over the stored task (TaskService.patch). Only what the item
 * gives changes: the schedule is rebuilt when type or start_time is given, the action when one
 * of method, url, body, body_type, resp_regexp is, the retries when redo_param is. `enable`
 * is left to the caller (pause / resume). `rename` allows a new name (the task was found by id).
 */
export function toTaskPatch(task: Task, item: CrontabItem, nowMs: number, rename: boolean): Partial<TaskInput> {
  const merged: CrontabItem = { ...storedItem(task), ...given(item) };
  const out: Partial<TaskInput> = { labels: { ...(task.labels ?? {}), ...labelsOf(item) } };
  if (rename && item.name !== undefined && item.name !== task.name) out.name = item.name;
  if (item.type !== undefined || item.startTime !== undefined) {
    const why = '(the task has none: it was not made by add_task)';
    if (merged.type === undefined) throw bad(`type is required with start_time ${why}`);
    if (merged.startTime === undefined) throw bad(`start_time is required with type ${why}`);
    out.schedule = toSchedule(merged.type, merged.startTime, nowMs);
  }
  if ([item.method, item.url, item.body, item.bodyType, item.respRegexp].some((v) => v !== undefined)) {
    if (merged.method === undefined || merged.url === undefined) throw bad('method and url are required to change the callback of a task not made by add_task');
    out.action = toAction({ method: merged.method, url: merged.url, body: merged.body, bodyType: merged.bodyType, respRegexp: merged.respRegexp });
  }
  if (item.redoParam !== undefined) out.policies = { ...task.policies, retry: retryOf(item.redoParam) };
  return out;
}
