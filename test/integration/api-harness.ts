/**
 * A real API over a real etcd (fresh key prefix) on a loopback port, and a client that checks
 * every response against the served OpenAPI document's schema for its route and status.
 */
import type { Reply } from '../support/http.js';
import { ClusterService } from '../../src/service/cluster-service.js';
import { ReplicaService } from '../../src/service/replica-service.js';
import { RunOutputService } from '../../src/service/run-output.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { expect } from 'chai';
import { createApp } from '../../src/api/app.js';
import { TaskService } from '../../src/service/task-service.js';
import { systemClock, type Clock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import type { EtcdHandle } from '../../src/store/etcd.js';
import { freshEtcd } from '../support/etcd.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

export type { Reply };

export interface CallOptions {
  /** Values for {placeholders} in the route template. */
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  raw?: string;
  token?: string | null;
  headers?: Record<string, string>;
}

export interface ApiHarnessOptions {
  tokens?: Record<string, string> | null;
  maxBodyBytes?: number;
  allowedUsers?: string[];
  clock?: Clock;
  ready?: boolean;
  /** Token sent when a call gives none. */
  defaultToken?: string;
  /** Replaces the node's cluster view (e.g. to make it fail). */
  cluster?: () => Promise<Record<string, unknown>>;
  /** Operator tenants (default ['default']). */
  operators?: string[];
}

export class ApiHarness {
  private doc: Record<string, any> | null = null; // eslint-disable-line @typescript-eslint/no-explicit-any
  private ajv: Ajv2020 | null = null;
  private readonly validators = new Map<string, ValidateFunction | null>();
  /** Routes and statuses seen, for coverage assertions. */
  readonly checked = new Set<string>();

  private constructor(
    readonly base: string,
    readonly service: TaskService,
    private readonly server: Server,
    /** The etcd handle (prefix) behind the service, for setting up records no API writes. */
    readonly handle: EtcdHandle,
    private readonly defaultToken: string | undefined,
  ) {}

  static async start(o: ApiHarnessOptions = {}): Promise<ApiHarness> {
    const { handle } = await freshEtcd();
    const service = new TaskService(handle, o.clock ?? systemClock, { allowedUsers: o.allowedUsers ?? [], maxReplicas: 1000 }, silentLogger);
    const app = createApp({
      service,
      clusterOps: new ClusterService(handle, o.operators),
      replicas: new ReplicaService(handle, service, { nodeId: () => 'test', dataDir: '/nonexistent' }),
      output: new RunOutputService(handle, service, { nodeId: () => 'test', dataDir: '/nonexistent' }),
      tokens: o.tokens === undefined ? null : o.tokens,
      log: silentLogger,
      maxBodyBytes: o.maxBodyBytes ?? 1024 * 1024,
      health: async () => ({ ok: true, detail: { node: 'test' } }),
      ready: async () => ({ ok: o.ready ?? true, detail: { node: 'test' } }),
      cluster: o.cluster ?? (async () => ({ leader: null, members: [] })),
      nodes: async () => [{ id: 'n1' }],
    });
    const server = createServer(app.callback());
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as AddressInfo;
    return new ApiHarness(`http://127.0.0.1:${port}`, service, server, handle, o.defaultToken);
  }

  async close(): Promise<void> {
    await new Promise<void>((ok) => {
      this.server.close(() => ok());
      this.server.closeAllConnections();
    });
    await this.service.stop();
    this.handle.close();
  }

  /**
   * Calls `METHOD template` (e.g. GET /api/v1/tasks/{id}); when the template is a documented
   * route, the reply must validate against the document's schema for its status.
   */
  async call(method: string, template: string, o: CallOptions = {}): Promise<Reply> {
    let path = template.replace(/\{(\w+)\}/g, (_, k: string) => encodeURIComponent(o.params?.[k] ?? `{${k}}`));
    if (o.query) path += `?${new URLSearchParams(Object.entries(o.query).map(([k, v]) => [k, String(v)]))}`;
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    const token = o.token === undefined ? this.defaultToken : o.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | undefined = o.raw;
    if (body === undefined && o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(this.base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    const plain = (res.headers.get('content-type') ?? '').startsWith('text/plain');
    const reply: Reply = { status: res.status, headers: res.headers, body: plain ? text : text ? JSON.parse(text) : undefined };
    await this.check(method.toLowerCase(), template, reply);
    return reply;
  }

  /** The served OpenAPI document (fetched once). */
  async openapi(): Promise<Record<string, any>> { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (!this.doc) {
      const res = await fetch(`${this.base}/api/v1/openapi.json`);
      expect(res.status).to.equal(200);
      this.doc = (await res.json()) as Record<string, unknown>;
      this.ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
      this.ajv.addSchema(this.doc, 'openapi');
    }
    return this.doc;
  }

  /** Compiled schema of a documented response; null when it has no body; throws when undocumented. */
  async responseValidator(method: string, template: string, status: number): Promise<ValidateFunction | null> {
    const doc = await this.openapi();
    const key = `${method} ${template} ${status}`;
    if (!this.validators.has(key)) {
      const op = doc.paths?.[template]?.[method];
      if (!op) throw new Error(`route not in the OpenAPI document: ${method.toUpperCase()} ${template}`);
      if (!op.responses?.[String(status)]) throw new Error(`status ${status} not documented for ${method.toUpperCase()} ${template}`);
      const schema = op.responses[String(status)].content?.['application/json']?.schema;
      const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');
      const pointer = `openapi#/paths/${esc(template)}/${method}/responses/${status}/content/application~1json/schema`;
      this.validators.set(key, schema ? this.ajv!.compile({ $ref: pointer }) : null);
    }
    return this.validators.get(key)!;
  }

  private async check(method: string, template: string, reply: Reply): Promise<void> {
    const doc = await this.openapi();
    if (!doc.paths?.[template]) return; // an undocumented path on purpose (404 tests)
    const v = doc.paths[template][method]
      ? await this.responseValidator(method, template, reply.status)
      : this.ajv!.getSchema('openapi#/components/schemas/Error')!; // wrong method: 405 in the error envelope
    this.checked.add(`${method.toUpperCase()} ${template} ${reply.status}`);
    if (v && !v(reply.body)) {
      throw new Error(`${method.toUpperCase()} ${template} ${reply.status}: body does not match the OpenAPI schema: ${JSON.stringify(v.errors)}\n${JSON.stringify(reply.body)}`);
    }
    if (v) return;
    // A documented text/plain answer (a run's output) is a string; anything else without a schema has no body.
    if (doc.paths[template][method]?.responses?.[String(reply.status)]?.content?.['text/plain']) expect(reply.body, `${method} ${template} ${reply.status} is text`).to.be.a('string');
    else expect(reply.body, `${method} ${template} ${reply.status} has no body`).to.equal(undefined);
  }
}

/** A small valid task body. */
export function httpTask(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, schedule: { cron: '*/5 * * * *', tz: 'Europe/Berlin' }, action: { http: { url: 'http://127.0.0.1:9/hook' } }, ...extra };
}
