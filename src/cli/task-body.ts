/**
 * Task bodies from the command line: a JSON or YAML document (a file, or `-` for stdin) and/or
 * flags for the common cases. Flags win over the document; the server checks the result.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { usageError } from './exit.js';
import type { ApiTask } from './api-types.js';

export interface TaskFlags {
  file?: string;
  name?: string;
  group?: string;
  cron?: string;
  tz?: string;
  every?: string;
  at?: string;
  manual?: boolean;
  daemon?: boolean;
  http?: string;
  method?: string;
  command?: string;
  replicas?: string;
  timeout?: string;
  overlap?: string;
  label?: string[];
  disabled?: boolean;
}

type Body = Record<string, unknown>;

/** Parses a JSON or YAML document from a file, or stdin for `-`. */
export function readDocument(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw usageError(`cannot read ${file === '-' ? 'stdin' : file}: ${(err as Error).message}`);
  }
  try {
    return YAML.parse(text) as unknown;
  } catch (err) {
    throw usageError(`${file === '-' ? 'stdin' : file} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

function readObject(file: string): Body {
  const doc = readDocument(file);
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw usageError(`${file === '-' ? 'stdin' : file} must hold one task (an object with name, schedule, action, ...)`);
  return doc as Body;
}

/** The schedule the flags ask for, or undefined when they name none. `base` is the schedule a lone --tz applies to. */
function scheduleOf(f: TaskFlags, base: unknown): Body | undefined {
  const given = [f.cron !== undefined, f.every !== undefined, f.at !== undefined, !!f.manual, !!f.daemon].filter(Boolean).length;
  if (given > 1) throw usageError('give one schedule: --cron, --every, --at, --manual or --daemon');
  if (f.cron !== undefined) return { cron: f.cron, ...(f.tz ? { tz: f.tz } : {}) };
  if (f.every !== undefined) return { every: f.every };
  if (f.at !== undefined) return { at: /^\d+$/.test(f.at) ? Number(f.at) : f.at };
  if (f.manual) return { manual: true };
  if (f.daemon) return { daemon: true };
  if (f.tz !== undefined) {
    const b = base as Body | undefined;
    if (!b || typeof b.cron !== 'string') throw usageError('--tz applies to a cron schedule: give --cron too');
    return { cron: b.cron, tz: f.tz };
  }
  return undefined;
}

function actionOf(f: TaskFlags, base: unknown): Body | undefined {
  if (f.http !== undefined && f.command !== undefined) throw usageError('give one action: --http or --command');
  if (f.http !== undefined) return { http: { url: f.http, ...(f.method ? { method: f.method.toUpperCase() } : {}) } };
  if (f.command !== undefined) return { process: { command: f.command } };
  if (f.method !== undefined) {
    const http = (base as Body | undefined)?.http as Body | undefined;
    if (!http) throw usageError('--method applies to an http action: give --http too');
    return { http: { ...http, method: f.method.toUpperCase() } };
  }
  return undefined;
}

function labelsOf(pairs: string[] | undefined, base: unknown): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, string> = { ...((base as Record<string, string> | undefined) ?? {}) };
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw usageError(`--label ${p}: use KEY=VALUE`);
    out[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return out;
}

function replicasOf(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw usageError(`--replicas ${v}: use a whole number`);
  return Number(v);
}

/**
 * The fields the flags set, over `base` (the document, or the current task for edit): a lone
 * --tz keeps the cron expression, --method the URL, --timeout/--overlap the other policies.
 */
function flagFields(f: TaskFlags, base: Body): Body {
  const out: Body = {};
  if (f.name !== undefined) out.name = f.name;
  if (f.group !== undefined) out.group = f.group;
  if (f.disabled) out.enabled = false;
  const schedule = scheduleOf(f, base.schedule);
  if (schedule) out.schedule = schedule;
  const action = actionOf(f, base.action);
  if (action) out.action = action;
  const replicas = replicasOf(f.replicas);
  if (replicas !== undefined) out.replicas = replicas;
  if (f.timeout !== undefined || f.overlap !== undefined) {
    out.policies = { ...((base.policies as Body | undefined) ?? {}), ...(f.timeout !== undefined ? { timeoutMs: f.timeout } : {}), ...(f.overlap !== undefined ? { overlap: f.overlap } : {}) };
  }
  const labels = labelsOf(f.label, base.labels);
  if (labels) out.labels = labels;
  return out;
}

/** The body of POST /api/v1/tasks. */
export function newTaskBody(f: TaskFlags): Body {
  const doc = f.file !== undefined ? readObject(f.file) : {};
  const body = { ...doc, ...flagFields(f, doc) };
  const missing = ['name', 'schedule', 'action'].filter((k) => body[k] === undefined);
  if (missing.length) {
    throw usageError(`a task needs ${missing.join(', ')}: give -f FILE, or flags such as --name NAME --every 30s --command 'date'`);
  }
  return body;
}

/** The body of PATCH /api/v1/tasks/{id}: the document's fields, then the flags', over the current task. */
export function taskPatch(f: TaskFlags, current: ApiTask): Body {
  const doc = f.file !== undefined ? readObject(f.file) : {};
  const patch = { ...doc, ...flagFields(f, { ...current, ...doc }) };
  if (Object.keys(patch).length === 0) throw usageError('nothing to change: give -f FILE or flags such as --cron, --every, --command, --http');
  return patch;
}
