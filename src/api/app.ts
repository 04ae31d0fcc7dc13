/**
 * The Koa app every node serves: request ids, then each API mount (the dialects, then the
 * native API) answering in its own envelope, and a native-envelope 404 for everything else.
 */
import Koa from 'koa';
import type { TaskService } from '../service/task-service.js';
import type { ClusterService } from '../service/cluster-service.js';
import type { ReplicaService } from '../service/replica-service.js';
import type { Logger } from '../log.js';
import { RotaError } from '../domain/errors.js';
import { errorHandler, nativeEnvelope } from './errors.js';
import { requestId } from './request-id.js';
import { mountApi, type ApiMount } from './mount.js';
import { nativeMount } from './native/index.js';
import { dialectMounts } from './compat/index.js';
import { uiMount } from './ui/index.js';

export interface ApiDeps {
  service: TaskService;
  /** Nodes: drain, in-flight work per node or host. */
  clusterOps: ClusterService;
  /** Process manager: replica status, output, restart. */
  replicas: ReplicaService;
  /** token -> tenant. null = auth disabled: every caller is tenant 'default'. */
  tokens: Record<string, string> | null;
  log: Logger;
  maxBodyBytes: number;
  /** Juice: how long a submitted task may wait for a node before it expires (default 10 min). */
  juice?: { expireAfterMs: number };
  /** liveness / readiness details */
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  ready(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  /** GET /api/v1/cluster body (leader, members, etcd health) — provided by the node */
  cluster(): Promise<Record<string, unknown>>;
  nodes(): Promise<unknown[]>;
  /** Prometheus exposition of this node's series. */
  metrics?(): Promise<{ contentType: string; body: string }>;
}

/** All mounts, in the order they are tried. */
export function apiMounts(deps: ApiDeps): ApiMount[] {
  return [...dialectMounts(deps), nativeMount(deps), uiMount()];
}

export function createApp(deps: ApiDeps): Koa {
  const app = new Koa();
  app.on('error', (err: unknown) => deps.log.error({ err }, 'koa error outside a request handler'));
  app.use(requestId(deps.log));
  // Outermost net: errors no mount caught (or an envelope itself threw) and unknown paths.
  app.use(errorHandler(nativeEnvelope, deps.log));
  for (const m of apiMounts(deps)) app.use(mountApi(m, deps.log));
  app.use((ctx) => {
    throw new RotaError('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
  });
  return app;
}
