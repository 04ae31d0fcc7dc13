/**
 * The one task model every API translates into (see ../shared/design.md).
 * Times are epoch milliseconds; durations carry their unit in the name.
 */

/** Normalised schedule, as stored and as returned by the native API. */
export type Schedule =
  | { cron: string; tz: string }
  | { everyMs: number }
  | { atMs: number }
  | { now: true }
  | { manual: true }
  | { daemon: true };

export interface HttpAction {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: { json: unknown } | { form: Record<string, string> } | { raw: string; contentType?: string };
  timeoutMs?: number;
  /** Accepted statuses; empty or absent means any 2xx. */
  expectStatus?: number[];
  /** Unanchored regex the response body must match. */
  bodyRegex?: string;
}

export interface ProcessAction {
  command: string;
  user?: string;
  group?: string;
  env: Record<string, string>;
  cwd?: string;
}

export interface JsonRpcAction {
  url: string;
  method: string;
  params?: unknown;
  headers: Record<string, string>;
  timeoutMs?: number;
  /** Unanchored regex the raw response body must match too (a lone '*' = anything). */
  bodyRegex?: string;
}

export interface ContainerAction {
  image: string;
  args: string[];
  env: Record<string, string>;
  /** Pull the image before each run (Juice's forcePullImage). */
  pull?: boolean;
  /** The runtime's --network value (bridge, host, none, or a network's name). */
  network?: string;
  /** Bind mounts, `host-path:container-path[:ro|rw]`. */
  volumes?: string[];
}

export type Action =
  | { http: HttpAction }
  | { process: ProcessAction }
  | { jsonrpc: JsonRpcAction }
  | { container: ContainerAction };

export type OverlapPolicy = 'allow' | 'forbid' | 'replace';
export type MisfireMode = 'skip' | 'run-once' | 'run-all';

export interface MisfirePolicy {
  mode: MisfireMode;
  /** A firing later than this after its scheduled time counts as missed. */
  graceMs: number;
  /** run-all: only missed firings within this window before now are run. */
  windowMs: number;
  /** run-all: at most this many missed firings are run (the newest). */
  maxCount: number;
}

/** Retries: an explicit list of delays, or exponential backoff with a cap. */
export interface RetryPolicy {
  delaysMs?: number[];
  max?: number;
  initialMs?: number;
  factor?: number;
  capMs?: number;
}

export interface RestartPolicy {
  delayMs: number;
  maxBackoffMs: number;
  /** A replica that stays up this long resets its backoff. */
  resetAfterMs: number;
}

export interface Policies {
  overlap: OverlapPolicy;
  misfire: MisfirePolicy;
  retry: RetryPolicy;
  timeoutMs?: number;
  onLost: 'retry' | 'discard';
  restart: RestartPolicy;
  alertAfterFailures?: number;
  /** A firing no node could take (resources, constraints) expires after waiting this long. */
  expireAfterMs?: number;
}

export interface Placement {
  strategy: 'random' | 'round-robin' | 'least-loaded';
  /** Only these node ids (empty: any). */
  nodes?: string[];
  /** Never these node ids (qschedule's per-job worker off). */
  excludeNodes?: string[];
  /** Node attributes that must all match (hostname, rack, ...). */
  attributes?: Record<string, string>;
  /** Node attributes that must each be one of the listed values (Juice's constraints). */
  constraints?: Record<string, string[]>;
  /** What one firing takes of a node's cpu and memory while assigned or running. */
  requests?: { cpu?: number; memMb?: number };
}

/**
 * Where a task's runs are reported: POSTed when an attempt starts running (`start`) and when the
 * firing ends with no retry to follow (`end`, the default), retried with backoff while the
 * receiver fails. `format` 'run' sends `{event, taskId, taskName, run}`; 'juice' sends Juice's
 * `{taskId, result, message}`.
 */
export interface Callback {
  url: string;
  on?: ('start' | 'end')[];
  format?: 'run' | 'juice';
}

export interface Task {
  id: string;
  tenant: string;
  name: string;
  group?: string;
  enabled: boolean;
  schedule: Schedule;
  action: Action;
  replicas: number;
  placement: Placement;
  policies: Policies;
  deps?: string[];
  callback?: Callback;
  params?: Record<string, unknown>;
  /** Free-form key/value text a client keeps on the task (dialects keep fields of theirs here, e.g. crontab's module). */
  labels?: Record<string, string>;
  createdMs: number;
  updatedMs: number;
}

export type Trigger = 'schedule' | 'manual' | 'retry' | 'catch-up';

export type RunState =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'killed'
  | 'skipped'
  | 'expired'
  | 'lost';

export const FINAL_RUN_STATES: readonly RunState[] = ['succeeded', 'failed', 'killed', 'skipped', 'expired', 'lost'];

export interface Run {
  id: string;
  taskId: string;
  tenant: string;
  scheduledMs: number;
  attempt: number;
  /** Which of the task's replicas (0 when it has one). */
  replica?: number;
  pid?: number;
  trigger: Trigger;
  node?: string;
  state: RunState;
  startedMs?: number;
  endedMs?: number;
  exitCode?: number;
  httpStatus?: number;
  message?: string;
  outputTail?: string;
  /** When the task's callback last took a report of this run (epoch ms). */
  callbackMs?: number;
}

export const DEFAULT_POLICIES: Policies = {
  overlap: 'allow',
  misfire: { mode: 'run-all', graceMs: 5_000, windowMs: 60_000, maxCount: 100 },
  retry: {},
  onLost: 'retry',
  restart: { delayMs: 3_000, maxBackoffMs: 60_000, resetAfterMs: 60_000 },
};

export const DEFAULT_PLACEMENT: Placement = { strategy: 'least-loaded' };
