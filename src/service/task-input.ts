import { compileSchedule } from '../domain/schedule.js';
import { parseDurationMs } from '../domain/duration.js';
import { RotaError } from '../domain/errors.js';
import { checkRunAs } from '../runner/run-as.js';
import {
  DEFAULT_PLACEMENT,
  DEFAULT_POLICIES,
  type Action,
  type Callback,
  type Placement,
  type Policies,
  type Schedule,
  type Task,
} from '../domain/task.js';

type Dur = string | number;

/**
 * What a client may send for a task: the stored shape, plus conveniences every dialect can use
 * (`every`/`at` in schedules, duration strings such as "30s" for any *Ms field). Structure is
 * checked by each API's schema first; this module checks meaning and applies defaults.
 */
export interface TaskInput {
  name: string;
  group?: string;
  enabled?: boolean;
  schedule: Record<string, unknown>;
  action: Record<string, unknown>;
  replicas?: number;
  placement?: Partial<Placement>;
  policies?: Record<string, unknown>;
  deps?: string[];
  callback?: { url: string; on?: string[]; format?: string };
  params?: Record<string, unknown>;
  labels?: Record<string, string>;
}

/** One firing's replicas share a transaction (etcd: at most 128 operations; two per replica). */
export const MAX_FIRING_REPLICAS = 40;

/** The largest task definition stored (as JSON): well under etcd's 1.5 MiB request limit. */
export const MAX_TASK_BYTES = 512 * 1024;

/** In a `u` regexp a paired surrogate is one code point, so only a lone one is category Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

export type TaskFields = Omit<Task, 'id' | 'tenant' | 'createdMs' | 'updatedMs'>;

export interface InputLimits {
  allowedUsers: string[];
  maxReplicas: number;
}

function dur(v: unknown, field: string): number {
  try {
    return parseDurationMs(v as Dur);
  } catch {
    throw new RotaError('INVALID_BODY', `${field}: invalid duration '${String(v)}': use e.g. 30s, 5m, 1h30m or milliseconds`);
  }
}

function optDur(o: Record<string, unknown>, key: string, field: string): number | undefined {
  const v = o[key];
  return v === undefined ? undefined : dur(v, field);
}

/** ISO 8601 text or epoch milliseconds. */
export function parseInstant(v: unknown): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    if (/^\d{1,15}$/.test(v)) return Number(v);
    // A time without an offset is read as UTC, like cron's default zone (never the server's zone).
    const withZone = /T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(v) ? `${v}Z` : v;
    const ms = Date.parse(withZone);
    if (!Number.isNaN(ms) && /^\d{4}-\d{2}-\d{2}/.test(v)) return ms;
  }
  throw new RotaError('INVALID_SCHEDULE', `invalid time '${String(v)}': use an ISO 8601 time (2026-01-31T12:00:00Z) or epoch milliseconds`);
}

export function normalizeSchedule(s: Record<string, unknown>): Schedule {
  let out: Schedule;
  if ('cron' in s) out = { cron: String(s.cron).trim(), tz: typeof s.tz === 'string' ? s.tz : 'UTC' };
  else if ('every' in s || 'everyMs' in s) {
    const v = s.every ?? s.everyMs;
    try {
      out = { everyMs: parseDurationMs(v as Dur) };
    } catch {
      throw new RotaError('INVALID_SCHEDULE', `invalid interval '${String(v)}': use e.g. 30s, 5m or milliseconds`);
    }
  } else if ('at' in s || 'atMs' in s) out = { atMs: parseInstant(s.at ?? s.atMs) };
  else if (s.now === true) out = { now: true };
  else if (s.manual === true) out = { manual: true };
  else if (s.daemon === true) out = { daemon: true };
  else throw new RotaError('INVALID_SCHEDULE', 'schedule must be one of {cron,tz}, {every}, {at}, {now:true}, {manual:true}, {daemon:true}');
  compileSchedule(out);
  return out;
}

function strMap(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries((v as Record<string, unknown>) ?? {}).map(([k, x]) => [k, String(x)]));
}

function checkUrl(u: unknown, field: string): string {
  try {
    const url = new URL(String(u));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error();
    return url.toString();
  } catch {
    throw new RotaError('INVALID_ACTION', `${field} must be an http or https URL, got '${String(u)}'`);
  }
}

export function normalizeAction(a: Record<string, unknown>, limits: InputLimits): Action {
  const kinds = ['http', 'process', 'jsonrpc', 'container'].filter((k) => k in a);
  if (kinds.length !== 1) throw new RotaError('INVALID_ACTION', 'action must have exactly one of http, process, jsonrpc, container');
  const kind = kinds[0]!;
  const o = (a[kind] ?? {}) as Record<string, unknown>;
  if (o.bodyRegex !== undefined && o.bodyRegex !== '*') {
    try {
      new RegExp(String(o.bodyRegex));
    } catch (e) {
      throw new RotaError('INVALID_ACTION', `action.${kind}.bodyRegex is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  if (kind === 'http') {
    const timeoutMs = optDur(o, 'timeoutMs', 'action.http.timeoutMs');
    return {
      http: {
        url: checkUrl(o.url, 'action.http.url'),
        method: String(o.method ?? 'POST').toUpperCase(),
        headers: strMap(o.headers),
        ...(o.body !== undefined ? { body: o.body as never } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(Array.isArray(o.expectStatus) && o.expectStatus.length ? { expectStatus: o.expectStatus as number[] } : {}),
        ...(o.bodyRegex !== undefined ? { bodyRegex: String(o.bodyRegex) } : {}),
      },
    };
  }
  if (kind === 'jsonrpc') {
    const timeoutMs = optDur(o, 'timeoutMs', 'action.jsonrpc.timeoutMs');
    if (typeof o.method !== 'string' || !o.method) throw new RotaError('INVALID_ACTION', 'action.jsonrpc.method is required');
    return {
      jsonrpc: {
        url: checkUrl(o.url, 'action.jsonrpc.url'),
        method: o.method,
        ...(o.params !== undefined ? { params: o.params } : {}),
        headers: strMap(o.headers),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        ...(o.bodyRegex !== undefined ? { bodyRegex: String(o.bodyRegex) } : {}),
      },
    };
  }
  if (kind === 'process') {
    if (typeof o.command !== 'string' || !o.command.trim()) throw new RotaError('INVALID_ACTION', 'action.process.command must be a non-empty string');
    const user = o.user === undefined ? undefined : String(o.user);
    const group = o.group === undefined ? undefined : String(o.group);
    const refusal = checkRunAs(user, group, limits.allowedUsers);
    if (refusal) throw new RotaError('USER_NOT_ALLOWED', refusal);
    return {
      process: {
        command: o.command,
        env: strMap(o.env),
        ...(user ? { user } : {}),
        ...(group ? { group } : {}),
        ...(o.cwd !== undefined ? { cwd: String(o.cwd) } : {}),
      },
    };
  }
  if (typeof o.image !== 'string' || !o.image) throw new RotaError('INVALID_ACTION', 'action.container.image is required');
  const volumes = ((o.volumes as unknown[]) ?? []).map(String);
  const badVolume = volumes.find((v) => !/^[^:]+:\/[^:]*(:(ro|rw))?$/.test(v));
  if (badVolume !== undefined) throw new RotaError('INVALID_ACTION', `action.container.volumes: '${badVolume}' is not host-path:/container-path[:ro|rw]`);
  return {
    container: {
      image: o.image,
      args: ((o.args as unknown[]) ?? []).map(String),
      env: strMap(o.env),
      ...(o.pull === true ? { pull: true } : {}),
      ...(typeof o.network === 'string' && o.network ? { network: o.network } : {}),
      ...(volumes.length ? { volumes } : {}),
    },
  };
}

export function normalizePolicies(p: Record<string, unknown> | undefined): Policies {
  const d = DEFAULT_POLICIES;
  const o = p ?? {};
  const mis = (o.misfire ?? {}) as Record<string, unknown>;
  const ret = (o.retry ?? {}) as Record<string, unknown>;
  const rst = (o.restart ?? {}) as Record<string, unknown>;
  const retry: Policies['retry'] = {};
  if (Array.isArray(ret.delaysMs)) retry.delaysMs = ret.delaysMs.map((x, i) => dur(x, `policies.retry.delaysMs[${i}]`));
  if (ret.max !== undefined) retry.max = Number(ret.max);
  const initialMs = optDur(ret, 'initialMs', 'policies.retry.initialMs');
  if (initialMs !== undefined) retry.initialMs = initialMs;
  if (ret.factor !== undefined) retry.factor = Number(ret.factor);
  const capMs = optDur(ret, 'capMs', 'policies.retry.capMs');
  if (capMs !== undefined) retry.capMs = capMs;
  const timeoutMs = optDur(o, 'timeoutMs', 'policies.timeoutMs');
  return {
    overlap: (o.overlap as Policies['overlap']) ?? d.overlap,
    misfire: {
      mode: (mis.mode as Policies['misfire']['mode']) ?? d.misfire.mode,
      graceMs: optDur(mis, 'graceMs', 'policies.misfire.graceMs') ?? d.misfire.graceMs,
      windowMs: optDur(mis, 'windowMs', 'policies.misfire.windowMs') ?? d.misfire.windowMs,
      maxCount: mis.maxCount !== undefined ? Number(mis.maxCount) : d.misfire.maxCount,
    },
    retry,
    ...(timeoutMs ? { timeoutMs } : {}),
    onLost: (o.onLost as Policies['onLost']) ?? d.onLost,
    restart: {
      delayMs: optDur(rst, 'delayMs', 'policies.restart.delayMs') ?? d.restart.delayMs,
      maxBackoffMs: optDur(rst, 'maxBackoffMs', 'policies.restart.maxBackoffMs') ?? d.restart.maxBackoffMs,
      resetAfterMs: optDur(rst, 'resetAfterMs', 'policies.restart.resetAfterMs') ?? d.restart.resetAfterMs,
    },
    ...(o.alertAfterFailures !== undefined ? { alertAfterFailures: Number(o.alertAfterFailures) } : {}),
    ...(o.expireAfterMs !== undefined ? { expireAfterMs: dur(o.expireAfterMs, 'policies.expireAfterMs') } : {}),
  };
}

function normalizeCallback(cb: NonNullable<TaskInput['callback']>): Callback {
  const on = cb.on === undefined ? undefined : [...new Set(cb.on)];
  if (on && (!on.length || on.some((e) => e !== 'start' && e !== 'end'))) throw new RotaError('INVALID_BODY', "callback.on must list 'start' and/or 'end'");
  if (cb.format !== undefined && cb.format !== 'run' && cb.format !== 'juice') throw new RotaError('INVALID_BODY', "callback.format must be 'run' or 'juice'");
  return {
    url: checkUrl(cb.url, 'callback.url'),
    ...(on && !(on.length === 1 && on[0] === 'end') ? { on: on as Callback['on'] } : {}),
    ...(cb.format && cb.format !== 'run' ? { format: cb.format as Callback['format'] } : {}),
  };
}

export function normalizePlacement(p: Partial<Placement> | undefined): Placement {
  const out: Placement = { ...DEFAULT_PLACEMENT, ...(p ?? {}) };
  const r = out.requests;
  if (r) {
    if (r.cpu !== undefined && !(typeof r.cpu === 'number' && r.cpu >= 0 && Number.isFinite(r.cpu))) throw new RotaError('INVALID_BODY', 'placement.requests.cpu must be a number of cpus, 0 or more');
    if (r.memMb !== undefined && !(Number.isInteger(r.memMb) && r.memMb >= 0)) throw new RotaError('INVALID_BODY', 'placement.requests.memMb must be a whole number of MB, 0 or more');
    if (!r.cpu && !r.memMb) delete out.requests;
  }
  if (out.constraints) {
    for (const [k, vs] of Object.entries(out.constraints)) {
      if (!Array.isArray(vs) || !vs.length || vs.some((v) => typeof v !== 'string')) throw new RotaError('INVALID_BODY', `placement.constraints.${k} must be a non-empty list of allowed values`);
    }
    if (!Object.keys(out.constraints).length) delete out.constraints;
  }
  return out;
}

/** Meaning and defaults for a whole task definition. */
export function normalizeTask(input: TaskInput, limits: InputLimits): TaskFields {
  const name = String(input.name ?? '').trim();
  if (!name) throw new RotaError('INVALID_BODY', 'name is required');
  if (name.length > 200) throw new RotaError('INVALID_BODY', 'name is longer than 200 characters');
  // A lone UTF-16 surrogate (JSON "\ud800") has no UTF-8 form: the name could not be a storage key.
  if (LONE_SURROGATE.test(name)) throw new RotaError('INVALID_BODY', 'name is not valid Unicode text (it has a lone surrogate)');
  const replicas = input.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > limits.maxReplicas) {
    throw new RotaError('INVALID_BODY', `replicas must be a whole number from 1 to ${limits.maxReplicas}`);
  }
  const placement = normalizePlacement(input.placement);
  const schedule = normalizeSchedule(input.schedule ?? {});
  if (!('daemon' in schedule) && replicas > MAX_FIRING_REPLICAS) {
    throw new RotaError('INVALID_BODY', `replicas above ${MAX_FIRING_REPLICAS} are only for daemon tasks: every replica of a firing is written in one etcd transaction`);
  }
  const fields: TaskFields = {
    name,
    ...(input.group !== undefined ? { group: input.group } : {}),
    enabled: input.enabled ?? true,
    schedule,
    action: normalizeAction(input.action ?? {}, limits),
    replicas,
    placement,
    policies: normalizePolicies(input.policies),
    ...(input.deps?.length ? { deps: input.deps } : {}),
    ...(input.callback ? { callback: normalizeCallback(input.callback) } : {}),
    ...(input.params ? { params: input.params } : {}),
    ...(input.labels && Object.keys(input.labels).length ? { labels: strMap(input.labels) } : {}),
  };
  // etcd refuses a request above 1.5 MiB; a dialect can store a field twice (crontab: action and label).
  const bytes = Buffer.byteLength(JSON.stringify(fields));
  if (bytes > MAX_TASK_BYTES) throw new RotaError('INVALID_BODY', `the task definition is ${bytes} bytes as stored, more than the limit of ${MAX_TASK_BYTES} bytes`);
  return fields;
}
