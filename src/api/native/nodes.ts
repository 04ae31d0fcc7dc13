/** Node operations: drain and undrain, and the work still in flight on a node or a host. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { inflightQuery } from './inputs.js';
import { presentInflight } from './presenter.js';
import { param, queryOf, type Native } from './native.js';

export function nodeRoutes(r: Router, n: Native): void {
  const ops = n.deps.clusterOps;
  r.post('/api/v1/nodes/:node/drain', n.auth, async (ctx) => {
    ctx.body = await ops.drain(callerOf(ctx), param(ctx, 'node'), true);
  });
  r.post('/api/v1/nodes/:node/undrain', n.auth, async (ctx) => {
    ctx.body = await ops.drain(callerOf(ctx), param(ctx, 'node'), false);
  });
  r.get('/api/v1/nodes/:node/inflight', n.auth, async (ctx) => {
    ctx.body = { items: (await ops.inflight(callerOf(ctx), [param(ctx, 'node')])).map(presentInflight) };
  });
  r.get('/api/v1/inflight', n.auth, async (ctx) => {
    const { host } = queryOf(ctx, inflightQuery);
    ctx.body = { items: (await ops.inflightOnHost(callerOf(ctx), host)).map(presentInflight) };
  });
}
