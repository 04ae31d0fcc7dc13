/** Run history: a task's runs (newest first), one run, killing a run. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { presentRun } from './presenter.js';
import { listRunsQuery, runOutputQuery } from './inputs.js';
import { FORWARDED } from '../../service/run-output.js';
import { param, queryOf, type Native } from './native.js';

export function runRoutes(r: Router, n: Native): void {
  const { service } = n.deps;

  r.get('/api/v1/tasks/:id/runs', n.auth, async (ctx) => {
    const q = queryOf(ctx, listRunsQuery);
    const page = await service.listRuns(callerOf(ctx), param(ctx, 'id'), q.limit, q.cursor);
    ctx.body = { items: page.items.map(presentRun), ...(page.next ? { next: page.next } : {}) };
  });

  r.get('/api/v1/runs/:runId', n.auth, async (ctx) => {
    ctx.body = presentRun(await service.getRun(callerOf(ctx), param(ctx, 'runId')));
  });

  /** The whole output, streamed from the node that holds it (forwarded there when that is another node). */
  r.get('/api/v1/runs/:runId/output', n.auth, async (ctx) => {
    const q = queryOf(ctx, runOutputQuery);
    const via = { auth: ctx.get('authorization') || undefined, localOnly: Boolean(ctx.get(FORWARDED)) };
    const out = await n.deps.output.open(callerOf(ctx), param(ctx, 'runId'), { follow: q.follow, via });
    ctx.set('X-Rota-Output', out.source);
    if (out.node) ctx.set('X-Rota-Node', out.node);
    if (q.download) ctx.attachment(`${out.run.id}.log`);
    // Sent as it is read; a follow's bytes are not held back by a proxy that buffers.
    ctx.set('X-Accel-Buffering', 'no');
    ctx.type = 'text/plain; charset=utf-8';
    // A follow may wait for the run's first bytes: the headers go now, so a forwarding node (5 s to answer) and a client see the answer has begun.
    if (q.follow) {
      ctx.status = 200;
      ctx.flushHeaders();
    }
    ctx.body = out.body;
  });

  /** Accepted: the node running it is asked to kill its process group. */
  r.post('/api/v1/runs/:runId/kill', n.auth, async (ctx) => {
    const run = await service.kill(callerOf(ctx), param(ctx, 'runId'));
    ctx.status = 202;
    ctx.body = presentRun(run);
  });
}
