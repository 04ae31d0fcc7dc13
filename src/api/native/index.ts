/** The native API (/api/v1 and the probes) as one mount. */
import Router from '@koa/router';
import type { ApiDeps } from '../deps.js';
import { requireCaller } from '../auth.js';
import { createBodyReader } from '../body.js';
import { nativeEnvelope } from '../errors.js';
import type { ApiMount } from '../mount.js';
import type { Native } from './native.js';
import { taskRoutes } from './tasks.js';
import { taskActionRoutes } from './task-actions.js';
import { runRoutes } from './runs.js';
import { eventRoutes } from './events.js';
import { systemRoutes } from './system.js';
import { nodeRoutes } from './nodes.js';
import { replicaRoutes } from './replicas.js';
import { nextFiringRoutes } from './next-firings.js';
import { slotRoutes } from './slots.js';

export const NATIVE_PREFIXES = ['/api/v1', '/healthz', '/readyz', '/metrics'];

export function nativeMount(deps: ApiDeps): ApiMount {
  const router = new Router();
  const n: Native = {
    deps,
    auth: requireCaller(deps.tokens),
    readBody: createBodyReader({ maxBytes: deps.maxBodyBytes, jsonAlways: true }),
  };
  taskRoutes(router, n);
  taskActionRoutes(router, n);
  runRoutes(router, n);
  eventRoutes(router, n);
  systemRoutes(router, n);
  nodeRoutes(router, n);
  replicaRoutes(router, n);
  nextFiringRoutes(router, n);
  slotRoutes(router, n);
  return { name: 'native', prefixes: NATIVE_PREFIXES, envelope: nativeEnvelope, router };
}
