/** Run history: a task's runs (newest first), one run, killing a run. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { presentRun } from './presenter.js';
import { listRunsQuery } from './inputs.js';
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

  /** Accepted: the node running it is asked to kill its process group. */
  r.post('/api/v1/runs/:runId/kill', n.auth, async (ctx) => {
    const run = await service.kill(callerOf(ctx), param(ctx, 'runId'));
    ctx.status = 202;
    ctx.body = presentRun(run);
  });
}
