/**
 * Hostile input on every route of every API (the native one and the five dialects): mutated
 * valid bodies, raw garbage, random query strings, path parameters and headers, from a seeded
 * PRNG. Asserts no 5xx, no hang, the node alive after every batch, every answer in its API's
 * envelope, and etcd without a half-written task (tasks/, names/ and cursors/ agree).
 *
 *   ROTA_FUZZ_RUNS=10000   requests per route (default below keeps the file near a minute)
 *   ROTA_FUZZ_SEED=123     replay a run (the seed is printed)
 *   ROTA_FUZZ_ONLY=regex   only routes whose "METHOD /path" matches
 *
 * Replaying: every run prints "fuzz seed N (ROTA_FUZZ_SEED=N replays)" before the first route, and
 * a failure names the seed, the route, the request's number and the request itself (bodies cut
 * at 600 bytes). Then
 *
 *   npx tsc -p tsconfig.json && ROTA_FUZZ_SEED=N npx mocha --no-config --timeout 600000 --exit dist/test/integration/fuzz.test.js
 *
 * sends the same requests again: each route draws from its own PRNG seeded from N and the route
 * (so ROTA_FUZZ_ONLY does not shift the others' draws), a batch is drawn before it is sent, and
 * only the fixture ids it mixes in come from the server (the same unless concurrent requests
 * raced differently for task ids) plus a few "now" timestamps.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { apiMounts, createApp, type ApiDeps } from '../../src/api/app.js';
import { TaskService } from '../../src/service/task-service.js';
import { ClusterService } from '../../src/service/cluster-service.js';
import { ReplicaService } from '../../src/service/replica-service.js';
import { RunOutputService } from '../../src/service/run-output.js';
import { systemClock } from '../../src/domain/clock.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { owns } from '../../src/api/mount.js';
import { K } from '../../src/store/keys.js';
import type { EtcdHandle } from '../../src/store/etcd.js';
import { freshEtcd } from '../support/etcd.js';
import {
  Rng, Sender, describeRequest, garbageBody, headerValue, jsonText, mutate, nastyString, paramValue, pathSegment, queryString, randomValue,
  type FuzzReply, type FuzzRequest,
} from '../support/fuzz.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const RUNS = Number(process.env.ROTA_FUZZ_RUNS ?? 400);
const SEED = Number(process.env.ROTA_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ONLY = process.env.ROTA_FUZZ_ONLY ? new RegExp(process.env.ROTA_FUZZ_ONLY) : null;
const CONCURRENCY = 12;
/** Requests between checks of /healthz and of etcd's consistency. */
const BATCH = 1000;
/** Above this many tasks (fuzz-made ones survive between routes), the extras are deleted. */
const MAX_TASKS = 30;

const TOKENS = { 'tok-default': 'default', 'tok-other': 'other', 'tok-ops': 'ops' };

type Api = 'native' | 'meproc' | 'crontab' | 'schedule-api' | 'qschedule' | 'juice';

/** Known good values the generator mixes in, refreshed after each batch. */
interface Fixtures {
  ids: string[];
  names: string[];
  identities: string[];
  runIds: string[];
  juiceIds: string[];
}

interface Endpoint {
  api: Api;
  method: string;
  /** With {param} placeholders. */
  path: string;
  params?: Record<string, (f: Fixtures) => string[]>;
  query?: (f: Fixtures) => Record<string, string[]>;
  /** A valid body. */
  body?: (f: Fixtures, r: Rng) => unknown;
}

const url = 'http://127.0.0.1:9/hook';
const pool = (r: Rng, what: string) => `fz-${what}-${r.int(6)}`;
const ids = (f: Fixtures) => f.ids;

const nativeTask = (name: string): Record<string, unknown> => ({
  name,
  group: 'fz',
  schedule: { cron: '*/5 * * * *', tz: 'Europe/Berlin' },
  action: { http: { url, method: 'POST', headers: { a: 'b' }, body: { json: { x: 1 } }, timeoutMs: '5s', expectStatus: [200], bodyRegex: 'ok' } },
  policies: { retry: { max: 2, initialMs: 1000, factor: 2 }, misfire: { mode: 'run-once', graceMs: 1000 } },
  labels: { k: 'v' },
  params: { p: 1 },
});

const ENDPOINTS: Endpoint[] = [
  // native
  { api: 'native', method: 'POST', path: '/api/v1/tasks', body: (_f, r) => nativeTask(pool(r, 'n')) },
  { api: 'native', method: 'GET', path: '/api/v1/tasks', query: (f) => ({ name: f.names, group: ['fz'], enabled: ['true', 'false'], kind: ['http', 'cron', 'every'], limit: ['1', '50'], after: f.ids }) },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}', params: { id: ids } },
  { api: 'native', method: 'PUT', path: '/api/v1/tasks/{id}', params: { id: ids }, body: (_f, r) => nativeTask(pool(r, 'n')) },
  { api: 'native', method: 'PATCH', path: '/api/v1/tasks/{id}', params: { id: ids }, body: () => ({ enabled: false, labels: { a: 'b' }, schedule: { every: '30s' }, policies: null }) },
  { api: 'native', method: 'DELETE', path: '/api/v1/tasks/{id}', params: { id: ids } },
  { api: 'native', method: 'POST', path: '/api/v1/tasks/{id}/pause', params: { id: ids } },
  { api: 'native', method: 'POST', path: '/api/v1/tasks/{id}/resume', params: { id: ids } },
  { api: 'native', method: 'POST', path: '/api/v1/tasks/{id}/trigger', params: { id: ids }, body: () => ({ params: { a: 1, b: 'x' } }) },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}/runs', params: { id: ids }, query: (f) => ({ limit: ['1', '500'], cursor: f.runIds }) },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}/next', params: { id: ids }, query: () => ({ count: ['1', '10'], after: ['0', String(Date.now())] }) },
  { api: 'native', method: 'POST', path: '/api/v1/tasks/{id}/restart', params: { id: ids } },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}/replicas', params: { id: ids } },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}/replicas/{replica}/output', params: { id: ids, replica: () => ['0', '1'] }, query: () => ({ bytes: ['1', '65536'] }) },
  { api: 'native', method: 'POST', path: '/api/v1/tasks/{id}/replicas/{replica}/restart', params: { id: ids, replica: () => ['0', '1', 'x'] } },
  { api: 'native', method: 'GET', path: '/api/v1/upcoming', query: () => ({ within: ['1000', '600000', '3600001'], limit: ['1', '1000', '0'] }) },
  { api: 'native', method: 'GET', path: '/api/v1/runs/{runId}', params: { runId: (f) => f.runIds } },
  { api: 'native', method: 'GET', path: '/api/v1/runs/{runId}/output', params: { runId: (f) => f.runIds }, query: () => ({ follow: ['false', 'true', 'maybe'], download: ['true', 'false'] }) },
  { api: 'native', method: 'POST', path: '/api/v1/runs/{runId}/kill', params: { runId: (f) => f.runIds } },
  { api: 'native', method: 'GET', path: '/api/v1/events', query: (f) => ({ limit: ['1', '50'], before: ['9999999999999-000001'], taskId: f.ids }) },
  { api: 'native', method: 'GET', path: '/api/v1/log', query: (f) => ({ taskId: f.ids, group: ['fz', 'fx-ident'], kinds: ['run,event', 'succeeded'], node: ['n1', 'test'], from: ['0'], to: [String(Date.now())], offset: ['0', '5'], limit: ['1', '500'] }) },
  { api: 'native', method: 'GET', path: '/api/v1/cluster' },
  { api: 'native', method: 'GET', path: '/api/v1/cluster/stats' },
  { api: 'native', method: 'GET', path: '/api/v1/tasks/{id}/slots', params: { id: ids }, query: () => ({ from: ['0', '2026-12-06T00:00:00Z', 'yesterday'], to: [String(Date.now()), '2026-12-06T01:00:00+01:00'], limit: ['1', '1000', '0'], cursor: ['', 'c2xvdDox', 'runs/1'] }) },
  { api: 'native', method: 'GET', path: '/api/v1/nodes' },
  { api: 'native', method: 'POST', path: '/api/v1/nodes/{node}/drain', params: { node: () => ['n1', 'test'] } },
  { api: 'native', method: 'POST', path: '/api/v1/nodes/{node}/undrain', params: { node: () => ['n1', 'test'] } },
  { api: 'native', method: 'GET', path: '/api/v1/nodes/{node}/inflight', params: { node: () => ['n1', 'test'] } },
  { api: 'native', method: 'GET', path: '/api/v1/inflight', query: () => ({ host: ['localhost', '127.0.0.1'] }) },
  { api: 'native', method: 'GET', path: '/healthz' },
  { api: 'native', method: 'GET', path: '/readyz' },
  { api: 'native', method: 'GET', path: '/metrics' },
  { api: 'native', method: 'GET', path: '/api/v1/openapi.json' },
  // meproc
  { api: 'meproc', method: 'POST', path: '/proc', body: (_f, r) => ({ name: pool(r, 'p'), cmd: 'sleep 1', type: r.pick(['once', 'daemon', 'cron']), replica: 1, user: null, group: null, cron: '* * * * *', interval: 3, deps: [] }) },
  { api: 'meproc', method: 'PUT', path: '/proc', query: (f) => ({ name: f.names }) },
  { api: 'meproc', method: 'DELETE', path: '/proc', query: (f) => ({ name: f.names }) },
  { api: 'meproc', method: 'GET', path: '/proc' },
  { api: 'meproc', method: 'GET', path: '/proc/output', query: (f) => ({ name: f.names, replica: ['0', '1'], bytes: ['1', '1048576'], encoding: ['base64', 'text'] }) },
  // crontab
  ...['add_task', 'update_task', 'query_task_status', 'run_again_task'].map((call): Endpoint => ({
    api: 'crontab',
    method: 'POST',
    path: `/crontab/${call}`,
    body: (f, r) => ({
      task_list: [
        call === 'add_task'
          ? { name: pool(r, 'c'), type: r.pick([1, 2, 4]), start_time: r.pick(['@every 30s', '0 0 * * * *', String(Math.floor(Date.now() / 1000) + 3600), '60']), url: `127.0.0.1:9/${r.pick(['x', 'Arith.Multiply'])}`, method: r.pick(['post', 'get', 'rpc']), enable: 1, body: '{"a":1}', body_type: 1, resp_regexp: 'ok', redo_param: '2 4', module: 'm' }
          : { task_id: r.pick(f.ids.length ? f.ids : ['1']), name: r.pick(f.names), enable: 2, start_time: '@every 1m', type: 2 },
      ],
    }),
  })),
  // schedule-api
  {
    api: 'schedule-api', method: 'POST', path: '/put',
    body: (_f, r) => ({ identity: pool(r, 's'), time_zone: 'Asia/Shanghai', start: true, entries: { a: { cron_time: '*/10 * * * * *', url, headers: { h: 'v' }, body: { x: 1 } }, b: { cron_time: '@every 1m', url } } }),
  },
  { api: 'schedule-api', method: 'POST', path: '/get', body: (f, r) => ({ identity: r.pick(f.identities) }) },
  { api: 'schedule-api', method: 'POST', path: '/all', body: () => ({}) },
  { api: 'schedule-api', method: 'POST', path: '/lists', body: (f) => ({ identity: f.identities }) },
  { api: 'schedule-api', method: 'POST', path: '/running', body: (f, r) => ({ identity: r.pick(f.identities), running: r.chance(0.5) }) },
  { api: 'schedule-api', method: 'POST', path: '/delete', body: (f, r) => ({ identity: r.pick(f.identities) }) },
  { api: 'schedule-api', method: 'POST', path: '/search', body: (f, r) => ({ identity: r.pick(f.identities), limit: 10, type: '', skip: 0, time: { gte: 0, lte: 0 } }) },
  { api: 'schedule-api', method: 'POST', path: '/clear', body: (f, r) => ({ identity: r.pick(f.identities) }) },
  // qschedule
  { api: 'qschedule', method: 'POST', path: '/api2/jobs/on.do', body: (f) => ({ jobs: f.names.slice(0, 2) }) },
  { api: 'qschedule', method: 'POST', path: '/api2/jobs/off.do', body: (f) => ({ jobs: f.names.slice(0, 2) }) },
  { api: 'qschedule', method: 'GET', path: '/api2/jobs/{file}', params: { file: (f) => f.names.map((n) => `${n}.do`) } },
  { api: 'qschedule', method: 'POST', path: '/api2/tasks.do', body: (f, r) => ({ job: r.pick(f.names), param: r.chance(0.5) ? '{"a":1}' : { a: 1 } }) },
  { api: 'qschedule', method: 'POST', path: '/api2/workers/state.do', body: (f, r) => ({ jobName: r.pick(f.names), workers: '{"127.0.0.1:8080":true}' }) },
  { api: 'qschedule', method: 'GET', path: '/api2/workers/{file}', params: { file: (f) => f.names.map((n) => `${n}.do`) } },
  { api: 'qschedule', method: 'GET', path: '/api/check/{file}', params: { file: () => ['127.0.0.1.do', 'localhost.do'] } },
  // juice
  {
    api: 'juice', method: 'POST', path: '/v1/tasks',
    body: (_f, r) =>
      r.chance(0.5)
        ? { taskName: 'fz-j', commands: 'echo hi', resources: { cpu: 0.1, mem: 64 }, envs: [{ name: 'A', value: '1' }], env: { B: 2 }, retry: 1, priority: 3, callbackUrl: url, constraints: [{ field: 'hostname', values: ['h1'] }] }
        : { taskName: 'fz-j', container: { type: 'DOCKER', docker: { image: 'busybox', forcePullImage: false, network: 'BRIDGE' }, volumes: [{ hostPath: '/tmp', containerPath: '/tmp', mode: 'RO' }] }, args: ['sh', '-c', 'true'] },
  },
  { api: 'juice', method: 'GET', path: '/v1/tasks', query: (f) => ({ taskIds: [f.juiceIds.join(','), ...f.juiceIds] }) },
  { api: 'juice', method: 'POST', path: '/v1/tasks/kill', query: (f) => ({ taskId: f.juiceIds }) },
];

// ---- envelopes -------------------------------------------------------------------------------

const isObj = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** null when the reply is in the API's shape, else why not. */
function envelopeProblem(api: Api, status: number, body: Json): string | null {
  if (!isObj(body)) return 'not a JSON object';
  switch (api) {
    case 'native':
      if (status >= 400) return isObj(body.error) && typeof body.error.code === 'string' && typeof body.error.message === 'string' ? null : 'not {"error":{"code","message"}}';
      return null;
    case 'meproc':
      return body.code === status && typeof body.msg === 'string' ? null : 'not {"code": <the HTTP status>, "msg"}';
    case 'crontab':
      if (!Number.isInteger(body.state) || typeof body.msg !== 'string' || !isObj(body.data)) return 'not {"state","msg","data":{}}';
      return body.state === 0 && status !== 200 ? 'state 0 with a non-200 status' : null;
    case 'schedule-api':
      if (body.error === 0) return status === 200 ? null : 'error 0 with a non-200 status';
      return body.error === 1 && typeof body.msg === 'string' ? null : 'not {"error":0|1,"msg"}';
    case 'qschedule':
      if (typeof body.ret !== 'boolean') return 'no boolean "ret"';
      return body.ret || typeof body.message === 'string' ? null : 'ret false without a message';
    case 'juice':
      if (!Number.isInteger(body.status) || typeof body.message !== 'string') return 'not {"status","message"}';
      return (status === 200) === (body.status === 0) && (status === 200 || body.status === status) ? null : `status ${body.status} does not match HTTP ${status}`;
  }
}

// ---- the run ---------------------------------------------------------------------------------

describe('fuzz: every route of every API (integration, real etcd)', function () {
  this.timeout(0);
  let handle: EtcdHandle;
  let service: TaskService;
  let server: Server;
  let sender: Sender;
  let deps: ApiDeps;
  let openapi: Json;
  const ajv = addFormats(new Ajv2020({ strict: false, allErrors: false }));
  const schemaOf = new Map<string, ValidateFunction | null>();
  const fx: Fixtures = { ids: [], names: [], identities: [], runIds: [], juiceIds: [] };
  const tally: string[] = [];
  const undocumented = new Set<string>();
  let total = 0;
  const serverErrors: string[] = [];
  const t0 = Date.now();

  const send = (q: FuzzRequest) => sender.send(q);
  const good = (api: Api): Record<string, string> =>
    api === 'juice' ? { authorization: 'Bearer tok-default', 'x-tenant-id': 'default' } : api === 'qschedule' ? { 'q-server-token': 'tok-default' } : { authorization: 'Bearer tok-default' };
  const json = (api: Api, method: string, path: string, body?: unknown): Promise<FuzzReply> =>
    send({ method, path, headers: { ...good(api), 'content-type': 'application/json' }, ...(body !== undefined ? { body: Buffer.from(JSON.stringify(body)) } : {}) });

  before(async () => {
    const e = await freshEtcd();
    handle = e.handle;
    service = new TaskService(handle, systemClock, { allowedUsers: [], maxReplicas: 1000 }, silentLogger);
    deps = {
      service,
      clusterOps: new ClusterService(handle, ['ops']),
      replicas: new ReplicaService(handle, service, { nodeId: () => 'test', dataDir: '/nonexistent' }),
      output: new RunOutputService(handle, service, { nodeId: () => 'test', dataDir: '/nonexistent' }),
      tokens: TOKENS,
      // Errors the API logs (a 5xx's cause) are kept to print with the failing request.
      log: createLogger({ level: 'error', destination: { write: (line: string) => void serverErrors.push(line.slice(0, 3000)) } }),
      maxBodyBytes: 1024 * 1024,
      health: async () => ({ ok: true, detail: { node: 'test' } }),
      ready: async () => ({ ok: true, detail: { node: 'test' } }),
      cluster: async () => ({ leader: null, members: [] }),
      nodes: async () => [{ id: 'n1' }],
      metrics: async () => ({ contentType: 'text/plain; version=0.0.4', body: 'rota_up 1\n' }),
    };
    server = createServer(createApp(deps).callback());
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    sender = new Sender('127.0.0.1', (server.address() as AddressInfo).port);
    openapi = JSON.parse((await json('native', 'GET', '/api/v1/openapi.json')).text);
    ajv.addSchema(openapi, 'openapi');
    console.log(`      fuzz seed ${SEED} (ROTA_FUZZ_SEED=${SEED} replays), ${RUNS} requests per route (ROTA_FUZZ_RUNS)`);
  });

  after(async () => {
    console.log(`      ${total} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const line of tally) console.log(`        ${line}`);
    if (undocumented.size) console.log(`      native statuses the OpenAPI document does not list: ${[...undocumented].sort().join(', ')}`);
    sender?.close();
    server?.closeAllConnections();
    await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
    await service?.stop();
    handle?.close();
  });

  /** Every route the mounts register is in the table above (so a new route gets fuzzed too). */
  it('covers every route of every mount', () => {
    const table = new Set(ENDPOINTS.map((e) => `${e.method} ${e.path.replace(/\{(\w+)\}/g, ':$1')}`));
    const missing: string[] = [];
    for (const m of apiMounts(deps)) {
      if (m.name === 'ui') continue;
      for (const layer of m.router.stack as { path: string; methods: string[] }[]) {
        const methods = layer.methods.filter((x) => x !== 'HEAD');
        if (methods.length > 4) continue; // router.all: the 405 catch-alls
        for (const method of methods) if (!table.has(`${method} ${layer.path}`)) missing.push(`${method} ${layer.path}`);
      }
    }
    for (const [p, ops] of Object.entries(openapi.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(ops)) if (!table.has(`${method.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`)) missing.push(`${method.toUpperCase()} ${p} (OpenAPI)`);
    }
    expect(missing, 'routes without a fuzz entry').to.deep.equal([]);
  });

  // ---- what the fuzzer found, one case each ----

  const body = (r: FuzzReply): Json => JSON.parse(r.text);

  it('regression: a body that says Content-Encoding: br and is not is a 400 (was 500)', async () => {
    const lie = (path: string, api: Api) => send({ method: 'POST', path, headers: { ...good(api), 'content-type': 'application/json', 'content-encoding': 'br' }, body: Buffer.from('{"identity":"x"}') });
    const native = await lie('/api/v1/tasks', 'native');
    expect(native.status).to.equal(400);
    expect(body(native).error.code).to.equal('INVALID_BODY');
    const sa = await lie('/running', 'schedule-api');
    expect([sa.status, body(sa).error]).to.deep.equal([200, 1]);
  });

  it('regression: a query number like 1e999 is refused, not coerced to Infinity (was 500 on /api/v1/events)', async () => {
    for (const q of ['limit=1e999', 'limit=-1e999', 'limit=Infinity']) {
      const r = await json('native', 'GET', `/api/v1/events?${q}`);
      expect(r.status, q).to.equal(400);
      expect(body(r).error.message).to.match(/finite|limit/);
    }
  });

  it('regression: a lone surrogate (JSON "\\ud800") in a name is refused in each envelope (was 500: no storage key)', async () => {
    const lone = '{"name":"a\\ud800","schedule":{"manual":true},"action":{"http":{"url":"http://127.0.0.1:9/"}}}';
    const native = await send({ method: 'POST', path: '/api/v1/tasks', headers: { ...good('native'), 'content-type': 'application/json' }, body: Buffer.from(lone) });
    expect(native.status).to.equal(400);
    expect(body(native).error.message).to.match(/surrogate/);
    const q = await send({ method: 'POST', path: '/api2/jobs/on.do', headers: { ...good('qschedule'), 'content-type': 'application/json' }, body: Buffer.from('{"jobs":["\\udc00x"]}') });
    expect(body(q)).to.deep.equal({ ret: false, message: '参数错误' });
    const paired = await json('native', 'POST', '/api/v1/tasks', { name: `fz-pair-😀-${Date.now()}`, schedule: { manual: true }, action: { http: { url } } });
    expect(paired.status, paired.text).to.equal(201);
    await json('native', 'DELETE', `/api/v1/tasks/${body(paired).id}`);
  });

  it('limits: each dialect names the limit in its own envelope', async () => {
    const quotes = '"'.repeat(70_000);
    const c = body(await json('crontab', 'POST', '/crontab/add_task', { task_list: [{ name: 'fz-big', type: 2, start_time: '60', url: '127.0.0.1:9/x', method: 'post', body: { a: quotes } }] }));
    expect(c.data.task_result[0].err).to.match(/body is longer than 65536 characters/);
    const entries = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`e${i}`, { cron_time: '0 * * * * *', url }]));
    const sa = body(await json('schedule-api', 'POST', '/put', { identity: 'fz-many', time_zone: 'UTC', start: true, entries }));
    expect(sa.error).to.equal(1);
    expect(sa.msg).to.match(/entries.*100/);
    const m = body(await json('meproc', 'POST', '/proc', { name: 'fz-deps', cmd: 'true', type: 'once', deps: Array.from({ length: 101 }, (_, i) => `d${i}`) }));
    expect([m.code, m.msg]).to.satisfy(([code, msg]: [number, string]) => code === 400 && /deps.*100/.test(msg));
    const j = body(await json('juice', 'POST', '/v1/tasks', { taskName: 'fz', commands: 'true', env: Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`V${i}`, '1'])) }));
    expect(j.status).to.equal(400);
    expect(j.message).to.match(/env.*1000/);
    const big = await json('native', 'POST', '/api/v1/tasks', { name: 'fz-huge', schedule: { manual: true }, action: { http: { url, body: { json: { a: 'x'.repeat(600_000) } } } } });
    expect(big.status).to.equal(400);
    expect(body(big).error.message).to.match(/more than the limit of 524288 bytes/);
  });

  // ---- state: fixtures, consistency, trimming ----

  async function allTasks(): Promise<{ id: string; tenant: string; name: string }[]> {
    const kvs = await handle.ns.getAll().prefix(K.tasks).strings();
    return Object.values(kvs).map((v) => JSON.parse(v) as { id: string; tenant: string; name: string });
  }

  /** Every task has its name index and cursor; every name points at a task that has that name. */
  async function checkConsistent(): Promise<void> {
    const [tasks, namesKv, cursors] = await Promise.all([
      handle.ns.getAll().prefix(K.tasks).strings(),
      handle.ns.getAll().prefix('names/').strings(),
      handle.ns.getAll().prefix(K.cursors).keys(),
    ]);
    const problems: string[] = [];
    const cursorSet = new Set(cursors);
    for (const [key, raw] of Object.entries(tasks)) {
      let t: { id: string; tenant: string; name: string };
      try {
        t = JSON.parse(raw) as typeof t;
      } catch {
        problems.push(`${key}: not JSON`);
        continue;
      }
      if (key !== K.task(t.id)) problems.push(`${key}: holds task id ${t.id}`);
      if (namesKv[K.name(t.tenant, t.name)] !== t.id) problems.push(`${key}: its name ${JSON.stringify(t.name)} (tenant ${t.tenant}) points at ${namesKv[K.name(t.tenant, t.name)] ?? 'nothing'}`);
      if (!cursorSet.has(K.cursor(t.id))) problems.push(`${key}: no cursor`);
    }
    for (const [key, id] of Object.entries(namesKv)) {
      const raw = tasks[K.task(id)];
      if (!raw) problems.push(`${key} -> ${id}: no such task`);
      else {
        const t = JSON.parse(raw) as { tenant: string; name: string };
        if (K.name(t.tenant, t.name) !== key) problems.push(`${key} -> ${id}: that task is named ${JSON.stringify(t.name)}`);
      }
    }
    for (const key of cursors) if (!tasks[K.task(key.slice(K.cursors.length))]) problems.push(`${key}: cursor of no task`);
    expect(problems, `half-written tasks in etcd (seed ${SEED})`).to.deep.equal([]);
  }

  async function healthy(): Promise<void> {
    const r = await send({ method: 'GET', path: '/healthz', headers: {} });
    expect(r.status, `/healthz (seed ${SEED})`).to.equal(200);
  }

  const FIXTURE_NAMES = ['fx-http', 'fx-proc', 'fx-cron', 'fx-ident.a'];

  /** Deletes fuzz-made tasks above MAX_TASKS, and (re)creates the fixtures through the APIs themselves. */
  async function refresh(): Promise<void> {
    const tasks = await allTasks();
    if (tasks.length > MAX_TASKS) {
      for (const t of tasks) {
        if (t.tenant === 'default' && FIXTURE_NAMES.includes(t.name)) continue;
        await service.delete({ tenant: t.tenant }, t.id).catch(() => undefined);
      }
    }
    const c = { tenant: 'default' };
    const need = async (name: string, create: () => Promise<FuzzReply>) => {
      if (await service.getByName(c, name)) return;
      const r = await create();
      expect(r.status, `fixture ${name}: ${r.text}`).to.be.oneOf([200, 201]);
    };
    await need('fx-http', () => json('native', 'POST', '/api/v1/tasks', nativeTask('fx-http')));
    await need('fx-proc', () => json('meproc', 'POST', '/proc', { name: 'fx-proc', cmd: 'sleep 1', type: 'daemon' }));
    await need('fx-cron', async () => {
      const r = await json('crontab', 'POST', '/crontab/add_task', { task_list: [{ name: 'fx-cron', type: 2, start_time: '@every 1m', url: '127.0.0.1:9/x', method: 'post' }] });
      expect(JSON.parse(r.text).data.task_result[0].err, r.text).to.equal('');
      return r;
    });
    await need('fx-ident.a', async () => {
      const r = await json('schedule-api', 'POST', '/put', { identity: 'fx-ident', time_zone: 'UTC', start: true, entries: { a: { cron_time: '0 * * * * *', url } } });
      expect(JSON.parse(r.text).error, r.text).to.equal(0);
      return r;
    });
    const mine = await service.listAll(c);
    if (!mine.some((t) => t.labels?.['juice.taskName'])) {
      const r = await json('juice', 'POST', '/v1/tasks', { taskName: 'fx-juice', commands: 'true' });
      expect(JSON.parse(r.text).status, r.text).to.equal(0);
    }
    const now = await service.listAll(c);
    fx.ids = now.map((t) => t.id).slice(0, 20);
    fx.names = [...FIXTURE_NAMES, ...now.map((t) => t.name).filter((n) => !FIXTURE_NAMES.includes(n)).slice(0, 4)];
    fx.identities = ['fx-ident', 'fz-s-0', 'fz-s-1'];
    fx.juiceIds = now.filter((t) => t.labels?.['juice.taskName']).map((t) => t.id).slice(0, 5);
    if (!fx.runIds.length) {
      const r = await json('native', 'POST', `/api/v1/tasks/${fx.ids[0]}/trigger`);
      expect(r.status, r.text).to.equal(202);
      fx.runIds = [JSON.parse(r.text).runId as string];
    }
  }

  // ---- one request ----

  function headers(api: Api, r: Rng): Record<string, string> {
    const h: Record<string, string> = r.chance(0.85) ? good(api) : {};
    if (!r.chance(0.85)) {
      const bad = headerValue(r.pick(['', 'Bearer', 'Bearer  ', 'Basic dXNlcjpwYXNz', 'Bearer tok-other', 'Bearer tok-ops', 'bearer tok-default', 'Bearer tok-default extra', `Bearer ${nastyString(r).slice(0, 5000)}`]));
      h[r.pick(['authorization', 'q-server-token'])] = bad;
    }
    if (r.chance(0.15)) h['x-tenant-id'] = headerValue(r.pick(['', ' ', 'other', 'ops', 'x'.repeat(201), 'dé', nastyString(r).slice(0, 300)]));
    if (r.chance(0.05)) h['x-request-id'] = headerValue(nastyString(r).slice(0, 300));
    if (r.chance(0.03)) h['x-rota-forwarded'] = '1';
    if (r.chance(0.03)) h.accept = r.pick(['text/html', '*/*', 'application/xml']);
    return h;
  }

  function makeRequest(ep: Endpoint, r: Rng): FuzzRequest {
    const method = r.chance(0.04) ? r.pick(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD']) : ep.method;
    let path = ep.path.replace(/\{(\w+)\}/g, (_, k: string) => pathSegment(paramValue(ep.params?.[k]?.(fx) ?? [], r), r));
    if (r.chance(0.03)) path += r.pick(['/', '/x', '//', '/%2e%2e', '/..%2f', '.do']);
    path += queryString(ep.query?.(fx) ?? {}, r);
    const h = headers(ep.api, r);
    let body: Buffer | undefined;
    const valid = ep.body?.(fx, r);
    const mode = r.int(10);
    if (valid === undefined && mode < 7) {
      if (r.chance(0.1)) h['content-type'] = r.pick(['application/json', 'text/plain', '']);
    } else if (mode < 6) {
      body = Buffer.from(jsonText(mutate(valid ?? randomValue(r), r), r));
      h['content-type'] ??= 'application/json';
    } else if (mode < 9) {
      const g = garbageBody(JSON.stringify(valid ?? randomValue(r)) ?? 'null', r);
      body = g.body;
      Object.assign(h, g.headers);
    } else {
      body = Buffer.from(jsonText(valid ?? randomValue(r), r));
      h['content-type'] ??= 'application/json';
    }
    return { method, path, headers: h, ...(body !== undefined ? { body } : {}) };
  }

  function nativeSchema(method: string, template: string, status: number): ValidateFunction | null {
    const key = `${method} ${template} ${status}`;
    if (!schemaOf.has(key)) {
      const resp = openapi.paths?.[template]?.[method.toLowerCase()]?.responses?.[String(status)];
      if (!resp) undocumented.add(`${method} ${template} ${status}`);
      const schema = resp?.content?.['application/json']?.schema;
      const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
      schemaOf.set(key, schema ? ajv.compile({ $ref: `openapi#/paths/${esc(template)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema` }) : null);
    }
    return schemaOf.get(key)!;
  }

  let mounts: { name: string; prefixes: string[] }[] | null = null;
  /** The API answering a path: the first mount owning it (as the app decides), else the native 404. */
  function ownerOf(rawPath: string): Api {
    const path = rawPath.split('?')[0]!;
    mounts ??= apiMounts(deps).map((m) => ({ name: m.name, prefixes: m.prefixes }));
    for (const m of mounts) if (m.prefixes.some((p) => owns(p, path))) return m.name === 'ui' ? 'native' : (m.name as Api);
    return 'native';
  }

  /** null when fine, else what is wrong with the reply. */
  function judge(ep0: Endpoint, q: FuzzRequest, res: FuzzReply): string | null {
    const ep = { ...ep0, api: ownerOf(q.path) };
    if (res.status >= 500) return `HTTP ${res.status}: ${res.text.slice(0, 500)}\n  server log: ${serverErrors.slice(-2).join('\n')}`;
    if (q.method === 'HEAD' || res.status === 204) return res.text === '' ? null : `${res.status} with a body`;
    // Node's HTTP parser refuses a request line and headers above 16 KiB before the app sees them.
    if (res.status === 431 && res.text === '' && res.headBytes > 16 * 1024) return null;
    // The routers answer OPTIONS with 200, an Allow header and no body (plain HTTP, not an API call).
    if (q.method === 'OPTIONS' && res.status === 200 && res.text === '' && res.headers.allow) return null;
    if (ep.path === '/metrics' && q.method === 'GET' && res.status === 200) return /^text\/plain/.test(String(res.headers['content-type'])) ? null : 'metrics not text/plain';
    if (!/^application\/json/.test(String(res.headers['content-type'] ?? ''))) return `content-type ${String(res.headers['content-type'])}: ${res.text.slice(0, 200)}`;
    let body: Json;
    try {
      body = JSON.parse(res.text);
    } catch {
      return `not JSON: ${res.text.slice(0, 200)}`;
    }
    const problem = envelopeProblem(ep.api, res.status, body);
    if (problem) return `${problem}: ${res.text.slice(0, 300)}`;
    if (ep.api === 'native' && ep0.api === 'native' && q.method === ep.method && /^\/api\/v1|^\/healthz|^\/readyz/.test(ep.path) && q.path.split('?')[0]!.split('/').length === ep.path.split('/').length && !/\/\/|\/(\?|$)/.test(q.path)) {
      const v = nativeSchema(ep.method, ep.path, res.status);
      if (v && !v(body)) return `does not match the OpenAPI schema for ${res.status}: ${JSON.stringify(v.errors)}: ${res.text.slice(0, 300)}`;
    }
    return null;
  }

  const seedOf = (ep: Endpoint) => {
    let h = SEED;
    for (const ch of `${ep.method} ${ep.path}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
    return h;
  };

  for (const ep of ENDPOINTS) {
    const label = `${ep.method} ${ep.path}`;
    if (ONLY && !ONLY.test(label)) continue;
    it(`${label} [${ep.api}]: ${RUNS} hostile requests, no 5xx, its envelope, etcd consistent`, async () => {
      const r = new Rng(seedOf(ep));
      const started = Date.now();
      const statuses = new Map<number, number>();
      let done = 0;
      await refresh();
      while (done < RUNS) {
        const n = Math.min(BATCH, RUNS - done);
        const reqs = Array.from({ length: n }, () => makeRequest(ep, r));
        let next = 0;
        const worker = async () => {
          while (next < reqs.length) {
            const i = next++;
            const q = reqs[i]!;
            let res: FuzzReply;
            try {
              res = await send(q);
            } catch (err) {
              // The server may refuse a big body before reading it and close the connection.
              const code = (err as { code?: string }).code;
              if ((code === 'ECONNRESET' || code === 'EPIPE') && (q.body?.length ?? 0) > 64 * 1024) continue;
              throw new Error(`seed ${SEED}, request #${done + i}: ${String(err)}\n${describeRequest(q)}`);
            }
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            const problem = judge(ep, q, res);
            if (problem) throw new Error(`seed ${SEED}, ${label}, request #${done + i}: ${problem}\n${describeRequest(q)}`);
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
        done += n;
        total += n;
        const tc = Date.now();
        await healthy();
        await checkConsistent();
        await refresh();
        if (process.env.ROTA_FUZZ_TIMING) console.log(`        batch ${tc - started} ms, checks ${Date.now() - tc} ms`);
      }
      const s = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ');
      tally.push(`${label.padEnd(48)} ${String(done).padStart(6)} in ${String(Date.now() - started).padStart(6)} ms  ${s}`);
    });
  }
});
