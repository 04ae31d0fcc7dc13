/**
 * The OpenAPI 3.1 document of the native API, built from the schema objects in schemas.ts
 * (the ones requests are validated with), so the two cannot drift apart.
 */
import * as S from './schemas.js';

type Obj = Record<string, unknown>;

const ref = (name: string): Obj => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Obj): Obj => ({ content: { 'application/json': { schema } } });

const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request (BAD_JSON, INVALID_BODY, INVALID_QUERY, INVALID_SCHEDULE, INVALID_ACTION, USER_NOT_ALLOWED)',
  401: 'Missing or invalid bearer token (UNAUTHORIZED)',
  403: 'Not allowed for this tenant (FORBIDDEN): node operations need an operator tenant',
  404: 'No such task, run or route in this tenant (NOT_FOUND)',
  405: 'Method not allowed on this path (METHOD_NOT_ALLOWED)',
  409: 'Name already taken, concurrent change or wrong state (CONFLICT, INVALID_STATE)',
  413: 'Body larger than the configured limit (BODY_TOO_LARGE)',
  500: 'Internal error; details are in the server log under the request id (INTERNAL)',
  503: 'Storage or cluster unavailable (UNAVAILABLE, NOT_LEADER)',
};

const pathParam = (name: string, description: string): Obj => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const ID = pathParam('id', 'task id');
const NODE = pathParam('node', 'node id');
const RUN_ID = pathParam('runId', 'run id: {taskId}-{scheduledMs}-{attempt}');

function queryParams(schema: S.Schema): Obj[] {
  const props = (schema.properties ?? {}) as Record<string, Obj>;
  return Object.entries(props).map(([name, s]) => ({ name, in: 'query', required: false, schema: s, ...(s.description ? { description: s.description } : {}) }));
}

interface Op {
  summary: string;
  tag: string;
  /** Default true: needs a bearer token. */
  auth?: boolean;
  params?: Obj[];
  body?: { schema: Obj; required?: boolean };
  ok: { status: number; description: string; schema?: Obj; headers?: Obj; text?: boolean };
  /** Statuses answered in the error envelope. */
  errors: number[];
  /** Other statuses with their own body (the probes' 503). */
  other?: Record<number, { description: string; schema: Obj }>;
}

function operation(o: Op): Obj {
  const auth = o.auth !== false;
  const errors = [...new Set([...o.errors, ...(auth ? [401] : []), 405, 500])].sort((a, b) => a - b);
  return {
    summary: o.summary,
    tags: [o.tag],
    ...(auth ? {} : { security: [] }),
    ...(o.params?.length ? { parameters: o.params } : {}),
    ...(o.body ? { requestBody: { required: o.body.required ?? true, ...json(o.body.schema) } } : {}),
    responses: {
      [String(o.ok.status)]: { description: o.ok.description, ...(o.ok.headers ? { headers: o.ok.headers } : {}), ...(o.ok.text ? { content: { 'text/plain': { schema: { type: 'string' } } } } : o.ok.schema ? json(o.ok.schema) : {}) },
      ...Object.fromEntries(errors.map((s) => [String(s), { description: ERROR_TEXT[s] ?? 'error', ...json(ref('Error')) }])),
      ...Object.fromEntries(Object.entries(o.other ?? {}).map(([s, r]) => [s, { description: r.description, ...json(r.schema) }])),
    },
  };
}

const location = (what: string): Obj => ({ Location: { description: `path of the ${what}`, schema: { type: 'string' } } });

function paths(): Obj {
  return {
    '/api/v1/tasks': {
      post: operation({ tag: 'tasks', summary: 'Create a task', body: { schema: ref('TaskInput') }, ok: { status: 201, description: 'Created', schema: ref('Task'), headers: location('new task') }, errors: [400, 409, 413] }),
      get: operation({ tag: 'tasks', summary: 'List tasks with their last outcome and runs in flight (by id, name, next firing or last outcome; paged by cursor or offset)', params: queryParams(S.ListTasksQuery), ok: { status: 200, description: 'A page of tasks', schema: ref('TaskPage') }, errors: [400] }),
    },
    '/api/v1/tasks/{id}': {
      get: operation({ tag: 'tasks', summary: 'Get a task', params: [ID], ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [404] }),
      put: operation({ tag: 'tasks', summary: 'Replace a task (a GET body is accepted back)', params: [ID], body: { schema: ref('TaskInput') }, ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [400, 404, 409, 413] }),
      patch: operation({ tag: 'tasks', summary: 'Merge top-level fields into a task (null resets a field)', params: [ID], body: { schema: ref('TaskPatch') }, ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [400, 404, 409, 413] }),
      delete: operation({ tag: 'tasks', summary: 'Delete a task', params: [ID], ok: { status: 204, description: 'Deleted' }, errors: [404, 409] }),
    },
    '/api/v1/tasks/{id}/pause': {
      post: operation({ tag: 'tasks', summary: 'Stop future firings (runs in flight go on)', params: [ID], ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [404, 409] }),
    },
    '/api/v1/tasks/{id}/resume': {
      post: operation({ tag: 'tasks', summary: 'Fire again from now on, without catch-up', params: [ID], ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [404, 409] }),
    },
    '/api/v1/tasks/{id}/trigger': {
      post: operation({ tag: 'runs', summary: 'Fire the task now (also when paused)', params: [ID], body: { schema: ref('TriggerInput'), required: false }, ok: { status: 202, description: 'Accepted: the run to expect', schema: ref('TriggerResult'), headers: location('run') }, errors: [400, 404, 413] }),
    },
    '/api/v1/tasks/{id}/runs': {
      get: operation({ tag: 'runs', summary: "A task's runs, newest first", params: [ID, ...queryParams(S.ListRunsQuery)], ok: { status: 200, description: 'A page of runs', schema: ref('RunPage') }, errors: [400, 404] }),
    },
    '/api/v1/tasks/{id}/slots': {
      get: operation({
        tag: 'runs',
        summary: 'Why did this not run? One slot per instant the schedule had in [from, to] (and one per manual trigger), newest first, with its outcome, the reason in words and its runs',
        params: [ID, ...queryParams(S.SlotsQuery)],
        ok: { status: 200, description: 'A page of slots', schema: S.page('#/components/schemas/Slot') },
        errors: [400, 404],
      }),
    },
    '/api/v1/tasks/{id}/next': {
      get: operation({ tag: 'tasks', summary: "The next firing instants of a task's schedule (also while paused; none for manual and daemon tasks)", params: [ID, ...queryParams(S.NextFiringsQuery)], ok: { status: 200, description: 'Instants, ascending', schema: S.NextFirings }, errors: [400, 404] }),
    },
    '/api/v1/upcoming': {
      get: operation({ tag: 'tasks', summary: "What fires next across the caller's enabled tasks, soonest first (paused, manual and daemon tasks have no instants)", params: queryParams(S.UpcomingQuery), ok: { status: 200, description: 'Instants', schema: S.Upcoming }, errors: [400] }),
    },
    '/api/v1/tasks/{id}/restart': {
      post: operation({ tag: 'processes', summary: 'Stop then start: a daemon restarts every replica; other tasks have live runs killed and fire now', params: [ID], ok: { status: 200, description: 'The task', schema: ref('Task') }, errors: [404, 409] }),
    },
    '/api/v1/tasks/{id}/replicas': {
      get: operation({ tag: 'processes', summary: 'Replica status: node, pid, state (running, backoff, pending, stopped), restarts, last exit code', params: [ID], ok: { status: 200, description: 'Replicas', schema: S.page('#/components/schemas/Replica') }, errors: [404] }),
    },
    '/api/v1/tasks/{id}/replicas/{replica}/output': {
      get: operation({ tag: 'processes', summary: "The tail of a replica's newest output file, read on the node that ran it", params: [ID, pathParam('replica', 'replica index, 0-based'), { name: 'bytes', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1048576, default: 65536 } }], ok: { status: 200, description: 'Output', schema: ref('ReplicaOutput') }, errors: [400, 404, 503] }),
    },
    '/api/v1/tasks/{id}/replicas/{replica}/restart': {
      post: operation({ tag: 'processes', summary: "Restart one daemon replica: its run is killed and the leader starts the next; the other replicas go on", params: [ID, pathParam('replica', 'replica index, 0-based')], ok: { status: 202, description: 'Accepted: the replica as it was', schema: ref('Replica') }, errors: [404, 409] }),
    },
    '/api/v1/runs/{runId}': {
      get: operation({ tag: 'runs', summary: 'Get a run (pending while its firing waits to be claimed)', params: [RUN_ID], ok: { status: 200, description: 'The run', schema: ref('Run') }, errors: [404] }),
    },
    '/api/v1/runs/{runId}/output': {
      get: operation({
        tag: 'runs',
        summary: "A run's whole output (stdout and stderr as they came), streamed from the node that ran it; with follow=true, live until the run ends",
        params: [RUN_ID, ...queryParams(S.RunOutputQuery)],
        ok: {
          status: 200,
          description: 'The output, text/plain',
          text: true,
          headers: {
            'X-Rota-Output': { description: '`file`: the whole output; `tail`: only the last bytes kept with the run (its node is gone, or the action wrote no file)', schema: { enum: ['file', 'tail'] } },
            'X-Rota-Node': { description: 'the node that ran it (absent while pending)', schema: { type: 'string' } },
          },
        },
        errors: [400, 404, 503],
      }),
    },
    '/api/v1/runs/{runId}/kill': {
      post: operation({ tag: 'runs', summary: 'Kill a running run (its process group)', params: [RUN_ID], ok: { status: 202, description: 'Accepted: the run as it was', schema: ref('Run') }, errors: [404, 409] }),
    },
    '/api/v1/events': {
      get: operation({ tag: 'events', summary: "The tenant's audit log, newest first", params: queryParams(S.ListEventsQuery), ok: { status: 200, description: 'A page of events', schema: ref('EventPage') }, errors: [400] }),
    },
    '/api/v1/log': {
      get: operation({ tag: 'events', summary: 'The run log: runs and audit events together, of a task, a group or the whole tenant, newest first', params: queryParams(S.LogQuery), ok: { status: 200, description: 'Entries', schema: ref('LogPage') }, errors: [400, 404] }),
    },
    '/api/v1/cluster': {
      get: operation({ tag: 'cluster', summary: 'Leader, members and etcd health', ok: { status: 200, description: 'Cluster view', schema: { type: 'object' } }, errors: [503] }),
    },
    '/api/v1/cluster/stats': {
      get: operation({ tag: 'cluster', summary: "The cluster's counters (firings planned and skipped, runs by state, retries, lost, in flight, claims, lease losses, webhook drops, lateness) summed over the live nodes by the node that answers, each node's share, and the nodes that did not answer", ok: { status: 200, description: 'Cluster-wide counters', schema: S.ClusterStats }, errors: [503] }),
    },
    '/api/v1/nodes': {
      get: operation({ tag: 'cluster', summary: 'Node membership records', ok: { status: 200, description: 'Nodes', schema: S.page('#/components/schemas/Node') }, errors: [503] }),
    },
    '/api/v1/nodes/{node}/drain': {
      post: operation({ tag: 'cluster', summary: 'Drain a node: no new work, in-flight runs finish, leadership handed over (sticky until undrain); operator tenants only', params: [NODE], ok: { status: 200, description: 'Draining', schema: ref('DrainResult') }, errors: [403, 404, 503] }),
    },
    '/api/v1/nodes/{node}/undrain': {
      post: operation({ tag: 'cluster', summary: 'Let a drained node take work again; operator tenants only', params: [NODE], ok: { status: 200, description: 'Active', schema: ref('DrainResult') }, errors: [403, 404, 503] }),
    },
    '/api/v1/nodes/{node}/inflight': {
      get: operation({ tag: 'cluster', summary: 'Runs assigned to or running on a node (wait for an empty list before stopping it)', params: [NODE], ok: { status: 200, description: 'In-flight runs', schema: S.page('#/components/schemas/Inflight') }, errors: [503] }),
    },
    '/api/v1/inflight': {
      get: operation({ tag: 'cluster', summary: 'Runs in flight on the nodes of one host', params: queryParams(S.InflightQuery).map((p) => ({ ...p, required: true })), ok: { status: 200, description: 'In-flight runs', schema: S.page('#/components/schemas/Inflight') }, errors: [400, 503] }),
    },
    '/healthz': {
      get: operation({ tag: 'probes', summary: 'Liveness', auth: false, ok: { status: 200, description: 'Alive', schema: ref('Health') }, errors: [], other: { 503: { description: 'Not alive', schema: ref('Health') } } }),
    },
    '/readyz': {
      get: operation({ tag: 'probes', summary: 'Readiness', auth: false, ok: { status: 200, description: 'Ready', schema: ref('Health') }, errors: [], other: { 503: { description: 'Not ready: draining, lease lost, or etcd unreachable (detail.etcd.reachable false, detail.etcd.why says why); detail.etcd.alarms lists raised etcd alarms (NOSPACE keeps a node ready: reads still work)', schema: ref('Health') } } }),
    },
    '/metrics': {
      get: {
        summary: "This node's Prometheus series (docs/metrics.md); no token needed",
        tags: ['meta'],
        security: [],
        responses: { '200': { description: 'Prometheus text exposition', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/api/v1/openapi.json': {
      get: operation({ tag: 'meta', summary: 'This document', auth: false, ok: { status: 200, description: 'OpenAPI 3.1', schema: { type: 'object' } }, errors: [] }),
    },
  };
}

let cached: Obj | null = null;

export function openApiDocument(): Obj {
  cached ??= {
    openapi: '3.1.0',
    info: { title: 'Rota native API', version: '1', description: 'Tasks, runs, events and cluster state. Times are epoch ms with ISO 8601 companions.' },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    security: [{ bearer: [] }],
    paths: paths(),
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from the configuration; it selects the tenant' } },
      schemas: {
        TaskInput: S.TaskInput,
        TaskPatch: S.TaskPatch,
        Task: S.Task,
        ListedTask: S.ListedTask,
        TaskPage: S.page('#/components/schemas/ListedTask', { total: { type: 'integer', minimum: 0, description: 'tasks matching the filter' } }),
        TriggerInput: S.TriggerInput,
        TriggerResult: S.TriggerResult,
        Run: S.Run,
        RunPage: S.page('#/components/schemas/Run'),
        Slot: S.Slot,
        Event: S.Event,
        EventPage: S.page('#/components/schemas/Event'),
        LogEntry: S.LogEntry,
        LogPage: S.LogPage,
        Inflight: S.Inflight,
        Replica: S.Replica,
        ReplicaOutput: S.ReplicaOutput,
        DrainResult: S.DrainResult,
        Node: { type: 'object', description: 'membership record: id, address, attributes, capacity, state' },
        Health: S.Health,
        Error: S.ErrorBody,
      },
    },
  };
  return cached;
}
