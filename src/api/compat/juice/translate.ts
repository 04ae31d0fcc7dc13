/**
 * Juice's task submission onto the one task model (pure). A Juice task is a one-shot task:
 *   schedule        {now: true}, fired once on submit
 *   commands        action.process.command (run by the shell, in its own process group)
 *   container       action.container: docker.image, args, docker.forcePullImage -> pull,
 *                   docker.network -> network, volumes [{hostPath, containerPath, mode}]
 *   env / envs      the action's environment ({name, value}, a map, or a list of {name, value})
 *   resources       placement.requests {cpu, memMb} (defaults 1 cpu, 512 MB)
 *   constraints     placement.constraints: hostname -> node hostname, rack_id -> node attribute rack
 *   retry           policies.retry {max: retry} (1 s, doubling)
 *   callbackUrl     callback {url, on: [start, end], format: juice}
 *   priority        label juice.priority (kept and shown; placement does not use it)
 * The task's Rota name is the taskName plus a unique suffix: Juice names need not be unique.
 */
import { randomBytes } from 'node:crypto';
import { RotaError } from '../../../domain/errors.js';
import type { Task } from '../../../domain/task.js';
import type { TaskInput } from '../../../service/task-input.js';
import { compileValidator } from '../../validate.js';

export const LABEL = { taskName: 'juice.taskName', priority: 'juice.priority' } as const;

/** A variable's value: Juice's env is a map of strings (numbers and booleans are taken as text). */
const envValue = { type: ['string', 'number', 'boolean', 'null'] };
const nameValue = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, value: envValue } };

export const SUBMIT_FIELDS = ['taskName', 'callbackUrl', 'resources', 'container', 'commands', 'env', 'envs', 'args', 'constraints', 'priority', 'retry'];

export interface SubmitBody {
  taskName: string;
  callbackUrl?: string | null;
  resources?: { cpu?: number; mem?: number } | null;
  container?: {
    type?: string;
    docker?: { image?: string; forcePullImage?: boolean; network?: string };
    volumes?: { hostPath?: string; containerPath?: string; mode?: string }[];
  } | null;
  commands?: string | null;
  env?: Record<string, unknown> | null;
  envs?: { name: string; value?: unknown }[] | null;
  args?: string[] | null;
  constraints?: unknown;
  priority?: number | null;
  retry?: number | null;
}

export const validateSubmit = compileValidator<SubmitBody>({
  type: 'object',
  required: ['taskName'],
  properties: {
    taskName: { type: 'string', minLength: 1, maxLength: 150 },
    callbackUrl: { type: ['string', 'null'], maxLength: 2048 },
    resources: { type: ['object', 'null'], properties: { cpu: { type: 'number', exclusiveMinimum: 0, maximum: 1024 }, mem: { type: 'number', exclusiveMinimum: 0, maximum: 16_777_216 } } },
    container: {
      type: ['object', 'null'],
      properties: {
        type: { type: 'string', maxLength: 50 },
        docker: { type: 'object', properties: { image: { type: 'string', minLength: 1, maxLength: 500 }, forcePullImage: { type: 'boolean' }, network: { type: 'string', maxLength: 200 } } },
        volumes: { type: 'array', maxItems: 100, items: { type: 'object', required: ['hostPath', 'containerPath'], properties: { hostPath: { type: 'string', minLength: 1, maxLength: 4096 }, containerPath: { type: 'string', minLength: 1, maxLength: 4096 }, mode: { enum: ['RO', 'RW', 'ro', 'rw'] } } } },
      },
    },
    commands: { type: ['string', 'null'], maxLength: 65_536 },
    env: { type: ['object', 'null'], maxProperties: 1000, additionalProperties: envValue },
    envs: { type: ['array', 'null'], maxItems: 1000, items: nameValue },
    args: { type: ['array', 'null'], maxItems: 1000, items: { type: 'string', maxLength: 65_536 } },
    priority: { type: ['integer', 'null'] },
    retry: { type: ['integer', 'null'], minimum: 0, maximum: 100 },
  },
});

const text = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

/** `env` as documented ({name, value}: one variable) or as a map; `envs` as a list of {name, value}. */
function environment(b: SubmitBody): Record<string, string> {
  const out: Record<string, string> = {};
  const e = b.env;
  if (e) {
    if (typeof e.name === 'string' && Object.keys(e).every((k) => k === 'name' || k === 'value')) out[e.name] = text(e.value);
    else for (const [k, v] of Object.entries(e)) out[k] = text(v);
  }
  for (const { name, value } of b.envs ?? []) out[name] = text(value);
  for (const k of Object.keys(out)) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new RotaError('INVALID_BODY', `env: '${k}' is not a valid variable name`);
  return out;
}

const CONSTRAINT_ATTRIBUTE: Record<string, string> = { hostname: 'hostname', rack_id: 'rack' };

/** `constraints`: {field, values} or a list of them (Marathon's [field, "LIKE"/"IN", value] lists too). */
function constraints(c: unknown): Record<string, string[]> | undefined {
  if (c === undefined || c === null) return undefined;
  const list = Array.isArray(c) ? c : [c];
  const out: Record<string, string[]> = {};
  for (const item of list) {
    let field: unknown;
    let values: unknown;
    if (Array.isArray(item)) {
      [field] = item;
      values = item.length >= 3 ? String(item[item.length - 1]).split(',') : undefined;
    } else if (item && typeof item === 'object') {
      ({ field, values } = item as { field?: unknown; values?: unknown });
      if (values === undefined && 'value' in (item as object)) values = [(item as { value: unknown }).value];
    }
    const attr = typeof field === 'string' ? CONSTRAINT_ATTRIBUTE[field] : undefined;
    if (!attr) throw new RotaError('INVALID_BODY', `constraints: field must be 'hostname' or 'rack_id', got ${JSON.stringify(field)}`);
    if (!Array.isArray(values) || !values.length || values.some((v) => typeof v !== 'string' || !v)) throw new RotaError('INVALID_BODY', `constraints: values of '${field}' must be a non-empty list of strings`);
    out[attr] = [...(out[attr] ?? []), ...(values as string[])];
  }
  return Object.keys(out).length ? out : undefined;
}

/** The native task input of a submission; `expireAfterMs`: how long it may wait for a node. */
export function toTaskInput(b: SubmitBody, expireAfterMs: number): TaskInput {
  const hasCommands = typeof b.commands === 'string' && b.commands.trim() !== '';
  const image = b.container?.docker?.image;
  if (hasCommands && image) throw new RotaError('INVALID_BODY', 'give either commands or container, not both');
  if (!hasCommands && !image) throw new RotaError('INVALID_BODY', b.container ? 'container.docker.image is required' : 'neither commands nor container given: one of them is required');
  if (b.container?.type !== undefined && String(b.container.type).toUpperCase() !== 'DOCKER') throw new RotaError('INVALID_BODY', `container.type must be DOCKER, got '${String(b.container.type)}'`);
  const env = environment(b);
  const action = hasCommands
    ? { process: { command: b.commands!, env } }
    : {
        container: {
          image: image!,
          args: b.args ?? [],
          env,
          ...(b.container?.docker?.forcePullImage ? { pull: true } : {}),
          ...(b.container?.docker?.network ? { network: b.container.docker.network.toLowerCase() } : {}),
          ...(b.container?.volumes?.length ? { volumes: b.container.volumes.map((v) => `${v.hostPath}:${v.containerPath}:${(v.mode ?? 'RW').toLowerCase()}`) } : {}),
        },
      };
  const cons = constraints(b.constraints);
  return {
    name: `${b.taskName}.${randomBytes(6).toString('hex')}`,
    schedule: { now: true },
    action,
    placement: { requests: { cpu: b.resources?.cpu ?? 1, memMb: Math.ceil(b.resources?.mem ?? 512) }, ...(cons ? { constraints: cons } : {}) },
    policies: { expireAfterMs, ...(b.retry ? { retry: { max: b.retry, initialMs: 1000, factor: 2 } } : {}) },
    ...(b.callbackUrl ? { callback: { url: b.callbackUrl, on: ['start', 'end'], format: 'juice' } } : {}),
    labels: { [LABEL.taskName]: b.taskName, ...(b.priority !== undefined && b.priority !== null ? { [LABEL.priority]: String(b.priority) } : {}) },
  };
}

/** True for a task this dialect made. */
export function isJuiceTask(t: Task): boolean {
  return t.labels?.[LABEL.taskName] !== undefined && 'now' in t.schedule;
}
