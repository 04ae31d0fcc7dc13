/**
 * Reading a task_list item: each field of the crontab server's document, as a JSON number or
 * numeric string where it is a number, checked for its own meaning (type 1-7, enable 1/2, a
 * valid resp_regexp, a well-formed redo_param). Pure; a bad field throws INVALID_BODY, which
 * becomes that item's `err`.
 */
import { RotaError } from '../../../domain/errors.js';

export type CrontabMethod = 'post' | 'get' | 'rpc';

/** One task_list item as read; a field is undefined when it was not given (null, "" for ids). */
export interface CrontabItem {
  taskId?: string;
  name?: string;
  enable?: boolean;
  module?: string;
  type?: number;
  startTime?: string;
  url?: string;
  method?: CrontabMethod;
  respRegexp?: string;
  body?: string;
  bodyType?: 1 | 2;
  redoParam?: string;
}

export const KNOWN_FIELDS = new Set(['task_id', 'name', 'enable', 'module', 'type', 'start_time', 'url', 'method', 'resp_regexp', 'body', 'body_type', 'redo_param']);

const bad = (msg: string): RotaError => new RotaError('INVALID_BODY', msg);

/** A whole number given as a JSON number or a numeric string; undefined when absent. */
function whole(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${field} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

/** Longest text per field (characters); body is the callback's payload. */
export const MAX_LENGTH: Record<string, number> = { name: 200, module: 200, start_time: 200, url: 2048, method: 10, resp_regexp: 1000, body: 65_536, redo_param: 1000 };

function text(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
  if (s === undefined) throw bad(`${field} must be a string, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  const max = MAX_LENGTH[field];
  if (max !== undefined && s.length > max) throw bad(`${field} is longer than ${max} characters`);
  return s;
}

/** resp_regexp as the runner will use it: '' and a lone '*' match anything. */
export function checkRespRegexp(pattern: string): void {
  if (pattern === '' || pattern === '*') return;
  try {
    new RegExp(pattern);
  } catch (e) {
    throw bad(`resp_regexp is not a valid regular expression: ${(e as Error).message}`);
  }
}

/** "2 4 8" -> [2000, 4000, 8000]; "" -> no retries. */
export function redoDelaysMs(redo: string): number[] {
  const parts = redo.trim() === '' ? [] : redo.trim().split(/\s+/);
  if (!parts.every((p) => /^\d+$/.test(p))) throw bad(`redo_param must be whole seconds separated by spaces (e.g. "2 4 8"), got '${redo}'`);
  if (parts.length > 100) throw bad('redo_param has more than 100 retries');
  return parts.map((p) => Number(p) * 1000);
}

/** Reads one item; malformed field values throw (the item's err). Also returns the fields it ignored. */
export function readItem(raw: unknown): { item: CrontabItem; ignored: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('each task_list item must be a JSON object');
  const o = raw as Record<string, unknown>;
  const item: CrontabItem = {};
  const id = whole(o.task_id, 'task_id');
  if (id) item.taskId = String(id);
  const name = text(o.name, 'name')?.trim();
  if (name) item.name = name;
  const enable = whole(o.enable, 'enable');
  if (enable !== undefined) {
    if (enable !== 1 && enable !== 2) throw bad(`enable must be 1 (on) or 2 (off), got ${enable}`);
    item.enable = enable === 1;
  }
  const module = text(o.module, 'module');
  if (module !== undefined) item.module = module;
  const type = whole(o.type, 'type');
  if (type !== undefined) {
    if (type < 1 || type > 7) throw bad(`unknown type ${type}: use 1 (single), 2 (interval), 3 (hour), 4 (daily), 5 (month), 6 (year) or 7 (week)`);
    item.type = type;
  }
  const start = text(o.start_time, 'start_time')?.trim();
  if (start) item.startTime = start;
  const url = text(o.url, 'url')?.trim();
  if (url) item.url = url;
  const method = text(o.method, 'method')?.trim().toLowerCase();
  if (method) {
    if (method !== 'post' && method !== 'get' && method !== 'rpc') throw bad(`method must be post, get or rpc, got '${method}'`);
    item.method = method;
  }
  const regexp = text(o.resp_regexp, 'resp_regexp');
  if (regexp !== undefined) {
    checkRespRegexp(regexp);
    item.respRegexp = regexp;
  }
  // body is a string passed through; a JSON object or array given instead is sent as its JSON text.
  const body = text(o.body !== null && typeof o.body === 'object' ? JSON.stringify(o.body) : o.body, 'body');
  if (body !== undefined) item.body = body;
  const bodyType = whole(o.body_type, 'body_type');
  if (bodyType) {
    if (bodyType !== 1 && bodyType !== 2) throw bad(`body_type must be 1 (json) or 2 (form), got ${bodyType}`);
    item.bodyType = bodyType;
  }
  const redo = text(o.redo_param, 'redo_param');
  if (redo !== undefined) {
    redoDelaysMs(redo);
    item.redoParam = redo;
  }
  return { item, ignored: Object.keys(o).filter((k) => !KNOWN_FIELDS.has(k)) };
}

/** query_task_status and run_again_task read only which task an item means. */
export function readRef(raw: unknown): { taskId?: string; name?: string } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw bad('each task_list item must be a JSON object');
  const o = raw as Record<string, unknown>;
  const id = whole(o.task_id, 'task_id');
  const name = text(o.name, 'name')?.trim();
  return { ...(id ? { taskId: String(id) } : {}), ...(name ? { name } : {}) };
}
