/** The process-manager routes: replica status, output (proxied to the owning node), restart. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { RotaError } from '../../domain/errors.js';
import { presentReplica, presentTask } from './presenter.js';
import { param, type Native } from './native.js';
import { FORWARDED } from '../../service/run-output.js';

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
    const forwarded = Boolean(ctx.get(FORWARDED));
    ctx.body = await replicas.output(callerOf(ctx), param(ctx, 'id'), replica, raw, { auth: ctx.get('authorization') || undefined, localOnly: forwarded });
  });
  /** Accepted: the replica as it was; its run is killed and the leader starts the next one. */
  r.post('/api/v1/tasks/:id/replicas/:replica/restart', n.auth, async (ctx) => {
    const replica = Number(param(ctx, 'replica'));
    if (!Number.isInteger(replica) || replica < 0) throw new RotaError('NOT_FOUND', `no replica '${param(ctx, 'replica')}'`);
    ctx.status = 202;
    ctx.body = presentReplica(await replicas.restartReplica(callerOf(ctx), param(ctx, 'id'), replica));
  });
  r.post('/api/v1/tasks/:id/restart', n.auth, async (ctx) => {
    ctx.body = presentTask(await replicas.restart(callerOf(ctx), param(ctx, 'id')));
  });
}
