/**
 * What every API mount is given: the services, auth, limits and the node's own answers. Its
 * own module, imported by the app and by every mount, so that nothing the app mounts imports
 * the app back.
 */
import type { TaskService } from '../service/task-service.js';
import type { ClusterService } from '../service/cluster-service.js';
import type { ReplicaService } from '../service/replica-service.js';
import type { RunOutputService } from '../service/run-output.js';
import type { Logger } from '../log.js';

export interface ApiDeps {
  service: TaskService;
  /** Nodes: drain, in-flight work per node or host. */
  clusterOps: ClusterService;
  /** Process manager: replica status, output, restart. */
  replicas: ReplicaService;
  /** A run's whole output, read on (or forwarded to) the node that ran it. */
  output: RunOutputService;
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
