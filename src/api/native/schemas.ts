/**
 * JSON Schemas (2020-12, the OpenAPI 3.1 dialect) of the native API: request bodies and query
 * strings are validated with them, and openapi.ts publishes the very same objects.
 * Input schemas are self-contained (no $ref) so ajv compiles them directly; response schemas
 * may $ref components of the OpenAPI document.
 */
import { ERROR_STATUS } from '../../domain/errors.js';
import { AUDIT_ACTIONS } from '../../domain/audit.js';

export type Schema = Record<string, unknown>;

/** Latest instant a Date can show (9999-12-31T23:59:59.999Z). */
const MAX_MS = 253_402_300_799_999;

const str = (maxLength: number, extra: Schema = {}): Schema => ({ type: 'string', maxLength, ...extra });
const int = (minimum: number, maximum?: number, extra: Schema = {}): Schema => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}), ...extra });
const obj = (properties: Schema, extra: Schema = {}): Schema => ({ type: 'object', additionalProperties: false, properties, ...extra });
const exactlyOne = (keys: string[]): Schema => ({ oneOf: keys.map((k) => ({ required: [k] })) });
const strings = (maxItems: number, each = 200): Schema => ({ type: 'array', items: str(each), maxItems });
const iso: Schema = { type: 'string', format: 'date-time', description: 'ISO 8601 companion of the *Ms field' };
const stringMap: Schema = { type: 'object', additionalProperties: str(65_536), maxProperties: 200 };
const url: Schema = str(2048, { minLength: 1, description: 'http or https URL' });

/** Adds null to a schema's types (PATCH: null resets a field to its default). */
function nullable(s: Schema): Schema {
  const t = s.type;
  return t === undefined ? s : { ...s, type: [...(Array.isArray(t) ? t : [t]), 'null'] };
}

export const Duration: Schema = {
  type: ['string', 'integer'],
  minimum: 0,
  maxLength: 64,
  description: 'milliseconds, or text such as "250ms", "30s", "5m", "1h30m", "1d"',
};

export const ScheduleInput: Schema = obj(
  {
    cron: str(200, { minLength: 1, description: '5 or 6 fields (seconds first) or a macro such as @hourly' }),
    tz: str(64, { description: 'IANA time zone of the cron expression (default UTC)' }),
    every: Duration,
    everyMs: int(0),
    at: { type: ['string', 'integer'], minimum: 0, maximum: MAX_MS, maxLength: 64, description: 'ISO 8601 time or epoch ms' },
    atMs: int(0, MAX_MS),
    now: { const: true },
    manual: { const: true },
    daemon: { const: true },
  },
  { ...exactlyOne(['cron', 'every', 'everyMs', 'at', 'atMs', 'now', 'manual', 'daemon']), dependentRequired: { tz: ['cron'] } },
);

/** A schedule as stored and returned (normalised). */
export const Schedule: Schema = {
  oneOf: [
    obj({ cron: str(200), tz: str(64) }, { required: ['cron', 'tz'] }),
    obj({ everyMs: int(1) }, { required: ['everyMs'] }),
    obj({ atMs: int(0), at: iso }, { required: ['atMs'] }),
    obj({ now: { const: true } }, { required: ['now'] }),
    obj({ manual: { const: true } }, { required: ['manual'] }),
    obj({ daemon: { const: true } }, { required: ['daemon'] }),
  ],
};

const HttpBody: Schema = obj(
  { json: { description: 'any JSON value, sent as application/json' }, form: stringMap, raw: { type: 'string' }, contentType: str(200) },
  { ...exactlyOne(['json', 'form', 'raw']), dependentRequired: { contentType: ['raw'] } },
);

export const Action: Schema = obj(
  {
    http: obj(
      {
        url,
        method: str(16, { minLength: 1, description: 'default POST' }),
        headers: stringMap,
        body: HttpBody,
        timeoutMs: Duration,
        expectStatus: { type: 'array', items: int(100, 599), maxItems: 50, description: 'accepted statuses; default any 2xx' },
        bodyRegex: str(1000),
      },
      { required: ['url'] },
    ),
    process: obj(
      { command: str(65_536, { minLength: 1 }), user: str(64), group: str(64), env: stringMap, cwd: str(4096) },
      { required: ['command'] },
    ),
    jsonrpc: obj(
      { url, method: str(200, { minLength: 1 }), params: { description: 'any JSON value' }, headers: stringMap, timeoutMs: Duration, bodyRegex: str(1000, { description: 'the raw response must match this too' }) },
      { required: ['url', 'method'] },
    ),
    container: obj(
      { image: str(500, { minLength: 1 }), args: strings(1000, 65_536), env: stringMap, pull: { type: 'boolean', description: 'pull the image before each run' }, network: str(200), volumes: { ...strings(100, 4096), description: 'host-path:/container-path[:ro|rw]' } },
      { required: ['image'] },
    ),
  },
  exactlyOne(['http', 'process', 'jsonrpc', 'container']),
);

export const Placement: Schema = obj({
  strategy: { enum: ['random', 'round-robin', 'least-loaded'] },
  nodes: strings(1000),
  excludeNodes: strings(1000),
  attributes: stringMap,
  constraints: { type: 'object', additionalProperties: { ...strings(100), minItems: 1 }, maxProperties: 50, description: 'node attribute -> allowed values (hostname, rack, ...)' },
  requests: obj({ cpu: { type: 'number', minimum: 0 }, memMb: int(0) }, { description: 'what one firing takes of a node while assigned or running; placed only where it fits' }),
});

export const Policies: Schema = obj({
  overlap: { enum: ['allow', 'forbid', 'replace'] },
  misfire: obj({ mode: { enum: ['skip', 'run-once', 'run-all'] }, graceMs: Duration, windowMs: Duration, maxCount: int(0, 1_000_000) }),
  retry: obj({ delaysMs: { type: 'array', items: Duration, maxItems: 100 }, max: int(0, 1000), initialMs: Duration, factor: { type: 'number', minimum: 1, maximum: 100 }, capMs: Duration }),
  timeoutMs: Duration,
  onLost: { enum: ['retry', 'discard'] },
  restart: obj({ delayMs: Duration, maxBackoffMs: Duration, resetAfterMs: Duration }),
  alertAfterFailures: int(1, 1_000_000),
  expireAfterMs: { ...Duration, description: 'a firing no node could take (resources, constraints) expires after waiting this long; default: waits' },
});

const taskFields: Schema = {
  name: str(200, { minLength: 1, description: 'unique within the tenant' }),
  group: str(200),
  enabled: { type: 'boolean' },
  schedule: ScheduleInput,
  action: Action,
  replicas: int(1, 1000),
  placement: Placement,
  policies: Policies,
  deps: strings(100),
  callback: obj(
    {
      url,
      on: { type: 'array', items: { enum: ['start', 'end'] }, minItems: 1, maxItems: 2, description: "when to POST: 'start' (an attempt started), 'end' (the firing ended, no retry to follow; the default)" },
      format: { enum: ['run', 'juice'], description: "'run' (default): {event, taskId, taskName, run}; 'juice': {taskId, result, message}" },
    },
    { required: ['url'] },
  ),
  params: { type: 'object', maxProperties: 1000 },
  labels: { ...stringMap, description: 'free-form text a client keeps on the task (dialects keep their own fields here)' },
};

/** POST and PUT bodies. */
export const TaskInput: Schema = obj(taskFields, { required: ['name', 'schedule', 'action'] });

/** PATCH bodies: any subset of the top-level fields; null resets an optional one. */
export const TaskPatch: Schema = obj(
  Object.fromEntries(Object.entries(taskFields).map(([k, s]) => [k, ['name', 'schedule', 'action'].includes(k) ? s : nullable(s as Schema)])),
);

export const TriggerInput: Schema = obj({ params: { type: 'object', maxProperties: 1000 } });

// ---------- responses ----------

export const Task: Schema = obj(
  {
    id: str(20, { pattern: '^\\d+$' }),
    tenant: str(200),
    ...taskFields,
    schedule: Schedule,
    createdMs: int(0),
    createdAt: iso,
    updatedMs: int(0),
    updatedAt: iso,
  },
  { required: ['id', 'tenant', 'name', 'enabled', 'schedule', 'action', 'replicas', 'placement', 'policies', 'createdMs', 'createdAt', 'updatedMs', 'updatedAt'] },
);

export const RUN_STATES = ['pending', 'running', 'succeeded', 'failed', 'killed', 'skipped', 'expired', 'lost'];

/** A task as GET /api/v1/tasks lists it: the definition, its newest finished run, its runs in flight. */
export const ListedTask: Schema = {
  ...Task,
  properties: {
    ...(Task.properties as Record<string, Schema>),
    lastRun: {
      oneOf: [
        { type: 'null' },
        obj(
          { runId: { type: 'string' }, state: { enum: ['succeeded', 'failed', 'killed', 'skipped', 'expired', 'lost'] }, endedMs: int(0), endedAt: iso },
          { required: ['runId', 'state', 'endedMs'] },
        ),
      ],
      description: 'the newest finished run (null: none yet, or its history was cleared)',
    },
    running: int(0, undefined, { description: 'runs of the task in flight now' }),
  },
  required: [...(Task.required as string[]), 'lastRun', 'running'],
};

export const Run: Schema = obj(
  {
    id: { type: 'string', description: '{taskId}-{scheduledMs}-{attempt}' },
    taskId: { type: 'string' },
    tenant: { type: 'string' },
    scheduledMs: int(0),
    scheduledAt: iso,
    attempt: int(1),
    trigger: { enum: ['schedule', 'manual', 'retry', 'catch-up'] },
    node: { type: 'string' },
    state: { enum: RUN_STATES },
    startedMs: int(0),
    startedAt: iso,
    endedMs: int(0),
    endedAt: iso,
    exitCode: { type: 'integer' },
    httpStatus: { type: 'integer' },
    message: { type: 'string' },
    outputTail: { type: 'string' },
    replica: int(0),
    pid: int(1),
    callbackMs: int(0),
    callbackAt: iso,
  },
  { required: ['id', 'taskId', 'tenant', 'scheduledMs', 'scheduledAt', 'attempt', 'trigger', 'state'] },
);

export const Event: Schema = obj(
  {
    id: { type: 'string' },
    tenant: { type: 'string' },
    atMs: int(0),
    at: iso,
    action: { enum: [...AUDIT_ACTIONS] },
    taskId: { type: 'string', description: 'absent on group events' },
    group: { type: 'string' },
    taskName: { type: 'string' },
    actor: { type: 'string' },
    detail: { type: 'object' },
  },
  { required: ['id', 'tenant', 'atMs', 'at', 'action'] },
);

export const LogEntry: Schema = {
  oneOf: [
    obj(
      { kind: { const: 'run' }, atMs: int(0), at: iso, run: { $ref: '#/components/schemas/Run' }, task: obj({ id: { type: 'string' }, name: { type: 'string' }, group: { type: 'string' } }, { required: ['id', 'name'] }) },
      { required: ['kind', 'atMs', 'run', 'task'] },
    ),
    obj({ kind: { const: 'event' }, atMs: int(0), at: iso, event: { $ref: '#/components/schemas/Event' } }, { required: ['kind', 'atMs', 'event'] }),
  ],
};

export const LogPage: Schema = obj(
  { total: int(0, undefined, { description: 'entries matching, before offset and limit' }), items: { type: 'array', items: { $ref: '#/components/schemas/LogEntry' } } },
  { required: ['total', 'items'] },
);

export const TriggerResult: Schema = obj({ runId: { type: 'string' }, scheduledMs: int(0), scheduledAt: iso }, { required: ['runId', 'scheduledMs', 'scheduledAt'] });

export const Inflight: Schema = obj(
  {
    runId: { type: 'string' },
    taskId: { type: 'string' },
    scheduledMs: int(0),
    scheduledAt: iso,
    attempt: int(1),
    state: { enum: ['assigned', 'running'] },
    node: { type: 'string' },
    tenant: { type: 'string' },
    startedMs: int(0),
    startedAt: iso,
    replica: int(1, undefined, { description: 'replica index, when the task has more than one' }),
    pid: int(0),
    daemon: { type: 'boolean', description: 'a daemon replica (kept running), not a run that ends' },
  },
  { required: ['runId', 'taskId', 'scheduledMs', 'attempt', 'state', 'node', 'daemon'] },
);

export const Replica: Schema = obj(
  {
    replica: int(0),
    alias: { type: 'string' },
    state: { enum: ['running', 'backoff', 'pending', 'stopped'] },
    node: { type: 'string' },
    pid: int(1),
    runId: { type: 'string' },
    restarts: int(0),
    startedMs: int(0),
    startedAt: iso,
    lastExitCode: { type: 'integer' },
    backoffMs: int(0),
  },
  { required: ['replica', 'alias', 'state', 'restarts'] },
);

export const ReplicaOutput: Schema = obj(
  { replica: int(0), runId: { type: ['string', 'null'] }, node: { type: ['string', 'null'] }, output: { type: 'string' }, truncated: { type: 'boolean' } },
  { required: ['replica', 'runId', 'node', 'output', 'truncated'] },
);

export const DrainResult: Schema = obj({ id: { type: 'string' }, draining: { type: 'boolean' } }, { required: ['id', 'draining'] });

export const InflightQuery: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: { host: { type: 'string', minLength: 1, maxLength: 255, description: 'IP address or hostname of the machine' } },
};

export const Health: Schema = obj({ ok: { type: 'boolean' }, detail: { type: 'object' } }, { required: ['ok', 'detail'] });

export const ErrorBody: Schema = obj(
  { error: obj({ code: { enum: Object.keys(ERROR_STATUS) }, message: { type: 'string' } }, { required: ['code', 'message'] }) },
  { required: ['error'] },
);

/** `{"items":[...],"next":"..."}`; `next` is absent on the last page. */
export const page = (itemRef: string, extra: Schema = {}): Schema =>
  obj({ items: { type: 'array', items: { $ref: itemRef } }, next: { type: 'string', description: 'pass back to get the next page' }, ...extra }, { required: ['items'] });

// ---------- query strings (validated with type coercion) ----------

const limit = int(1, 500, { default: 50 });

export const TASK_KINDS = ['http', 'process', 'jsonrpc', 'container', 'cron', 'every', 'everyMs', 'at', 'atMs', 'now', 'manual', 'daemon'];

export const ListTasksQuery: Schema = {
  type: 'object',
  properties: {
    name: str(200, { description: 'substring of the name' }),
    group: str(200),
    enabled: { type: 'boolean' },
    kind: { enum: TASK_KINDS, description: 'action kind or schedule kind' },
    sort: {
      enum: ['id', 'name', 'next', 'last'],
      default: 'id',
      description: 'id (creation order), name, next firing (soonest first; tasks that will not fire last), or last outcome (failed, lost, expired or killed first, then skipped, then succeeded, newest first within each; never run last)',
    },
    running: { type: 'boolean', description: 'true: only tasks with a run in flight now; false: only those without' },
    lastOutcome: str(200, { pattern: '^(succeeded|failed|killed|skipped|expired|lost)(,(succeeded|failed|killed|skipped|expired|lost))*$', description: 'comma-separated run states: only tasks whose newest finished run ended so (e.g. failed,lost,expired,killed)' }),
    offset: int(0, 10_000_000, { default: 0, description: 'skip this many (paging in any order)' }),
    limit,
    after: str(20, { pattern: '^\\d+$', description: "with sort=id: the previous page's next" }),
  },
};

export const ListRunsQuery: Schema = {
  type: 'object',
  properties: { limit, cursor: str(300, { description: "the previous page's next" }) },
};

export const RunOutputQuery: Schema = {
  type: 'object',
  properties: {
    follow: { type: 'boolean', default: false, description: 'true: while the run runs, keep the answer open and send what it writes until it ends' },
    download: { type: 'boolean', default: false, description: 'true: answered as an attachment, {runId}.log' },
  },
};

export const LogQuery: Schema = {
  type: 'object',
  properties: {
    taskId: str(20, { pattern: '^\\d+$', description: "one task's entries" }),
    group: str(200, { description: "a group's entries (its tasks' runs and the events about it)" }),
    kinds: str(2000, { description: 'comma-separated run states, triggers and audit actions (default: all)' }),
    node: str(200, { description: 'only runs on this node (audit events are left out)' }),
    from: int(0, MAX_MS, { description: 'epoch ms, inclusive' }),
    to: int(0, MAX_MS, { description: 'epoch ms, inclusive' }),
    offset: int(0, 1_000_000, { default: 0 }),
    limit,
  },
};

export const ListEventsQuery: Schema = {
  type: 'object',
  properties: {
    limit,
    before: str(40, { pattern: '^\\d{13,}-[0-9a-f]+$', description: "the previous page's next" }),
    taskId: str(20, { pattern: '^\\d+$' }),
  },
};

/** GET /api/v1/tasks/{id}/next: the next firing instants of a task's schedule. */
const instant = (description: string) => str(40, { pattern: '^(\\d{1,16}|\\d{4}-\\d{2}-\\d{2}T[0-9:.]+(Z|[+-]\\d{2}:?\\d{2})?)$', description });

export const SlotsQuery: Schema = {
  type: 'object',
  properties: {
    from: instant('epoch ms or ISO 8601 (default: an hour before `to`)'),
    to: instant('epoch ms or ISO 8601 (default: now)'),
    limit: int(1, 1000, { default: 100, description: 'slots per page, newest first (at most 1,000)' }),
    cursor: str(100, { description: "the previous page's next" }),
  },
};

const SlotRun = obj(
  {
    attempt: int(1),
    replica: int(0),
    node: { type: 'string' },
    state: { enum: ['pending', 'running', 'succeeded', 'failed', 'killed', 'lost', 'skipped', 'expired'] },
    trigger: { enum: ['schedule', 'manual', 'retry', 'catch-up'] },
    latenessMs: { type: 'integer', description: 'from the instant to the start' },
    message: { type: 'string' },
  },
  { required: ['attempt', 'state', 'trigger'] },
);

export const Slot: Schema = obj(
  {
    scheduledAt: int(0, MAX_MS, { description: 'the instant (epoch ms)' }),
    trigger: { enum: ['schedule', 'manual'], description: 'manual: a trigger, listed as its own slot' },
    outcome: { enum: ['succeeded', 'failed', 'running', 'pending', 'skipped', 'missed', 'paused', 'lost'] },
    reason: { type: 'string', description: 'why, in words (absent for a plain success)' },
    runs: { type: 'array', items: SlotRun },
  },
  { required: ['scheduledAt', 'trigger', 'outcome', 'runs'] },
);

const counters: Schema = { type: 'object', additionalProperties: { anyOf: [{ type: 'number' }, { type: 'object', additionalProperties: { type: 'number' } }] } };

export const ClusterStats: Schema = obj(
  {
    atMs: int(0),
    totals: { ...counters, description: 'each series summed over the nodes that answered: a number, or by label (trigger, reason, state, rank, why)' },
    nodes: { type: 'array', items: obj({ id: { type: 'string' }, address: { type: 'string' }, counters, startedMs: { type: 'number', description: 'its process started then: its counters count from there' } }, { required: ['id', 'address', 'counters'] }) },
    missing: { type: 'array', description: 'live nodes that did not answer within a second: not in the totals', items: obj({ id: { type: 'string' }, address: { type: 'string' }, error: { type: 'string' } }, { required: ['id', 'address', 'error'] }) },
  },
  { required: ['atMs', 'totals', 'nodes', 'missing'] },
);

export const NextFiringsQuery: Schema = {
  type: 'object',
  properties: {
    count: int(1, 50, { default: 5, description: 'how many instants' }),
    after: int(0, MAX_MS, { description: 'epoch ms to count from (exclusive); default now' }),
  },
};

export const UpcomingQuery: Schema = {
  type: 'object',
  properties: {
    within: int(1000, 3_600_000, { default: 600_000, description: 'how far ahead, in ms (default 10 minutes, at most an hour)' }),
    limit: int(1, 1000, { default: 100, description: 'at most this many instants' }),
  },
};

export const Upcoming: Schema = obj(
  {
    fromMs: int(0),
    toMs: int(0),
    more: { type: 'boolean', description: 'true: more instants fall in the window than were listed' },
    items: { type: 'array', items: obj({ taskId: { type: 'string' }, name: { type: 'string' }, group: { type: 'string' }, ms: int(0), at: iso }, { required: ['taskId', 'name', 'ms', 'at'] }) },
  },
  { required: ['fromMs', 'toMs', 'more', 'items'] },
);

export const NextFirings: Schema = obj(
  {
    tz: { type: 'string', description: "the cron schedule's time zone, else UTC" },
    enabled: { type: 'boolean', description: 'false: the task is paused, and these are the instants it would fire at' },
    items: { type: 'array', items: obj({ ms: int(0), at: iso }, { required: ['ms', 'at'] }) },
  },
  { required: ['tz', 'enabled', 'items'] },
);
