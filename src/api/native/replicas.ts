/** The process-manager routes: replica status, output (proxied to the owning node), restart. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { RotaError } from '../../domain/errors.js';
import { presentReplica, presentTask } from './presenter.js';
import { param, type Native } from './native.js';

const MAX_OUTPUT_BYTES = 1024 * 1024;

export function replicaRoutes(r: Router, n: Native): void {
  const replicas = n.deps.replicas;
  r.get('/api/v1/tasks/:id/replicas', n.auth, async (ctx) => {
    ctx.body = { items: (await replicas.status(callerOf(ctx), param(ctx, 'id'))).map(presentReplica) };
  });
  r.get('/api/v1/tasks/:id/replicas/:replica/output', n.auth, async (ctx) => {
    const replica = Number(param(ctx, 'replica'));
    const raw = ctx.query.bytes === undefined ? 64 * 1024 : Number(ctx.query.bytes);
    if (!Number.isInteger(raw) || raw < 1 || raw > MAX_OUTPUT_BYTES) throw new RotaError('INVALID_QUERY', `bytes must be a whole number from 1 to ${MAX_OUTPUT_BYTES}`);
    const forwarded = Boolean(ctx.get('x-rota-forwarded'));
    ctx.body = await replicas.output(callerOf(ctx), param(ctx, 'id'), replica, raw, { auth: ctx.get('authorization') || undefined, localOnly: forwarded });
  });
  r.post('/api/v1/tasks/:id/restart', n.auth, async (ctx) => {
    ctx.body = presentTask(await replicas.restart(callerOf(ctx), param(ctx, 'id')));
  });
}
