/** Verbs on one task: pause, resume, trigger. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { expectObject } from '../body.js';
import { isoOf, presentTask } from './presenter.js';
import { validateTrigger } from './inputs.js';
import { param, type Native } from './native.js';

export function taskActionRoutes(r: Router, n: Native): void {
  const { service } = n.deps;

  for (const [verb, enabled] of [['pause', false], ['resume', true]] as const) {
    r.post(`/api/v1/tasks/:id/${verb}`, n.auth, async (ctx) => {
      ctx.body = presentTask(await service.setEnabled(callerOf(ctx), param(ctx, 'id'), enabled));
    });
  }

  /** Fires now, even when paused; the body `{"params":{...}}` is optional. */
  r.post('/api/v1/tasks/:id/trigger', n.auth, async (ctx) => {
    const body = await n.readBody(ctx);
    const { params } = body === undefined ? {} : validateTrigger(expectObject(body));
    const { runId, scheduledMs } = await service.trigger(callerOf(ctx), param(ctx, 'id'), params);
    ctx.status = 202;
    ctx.set('Location', `/api/v1/runs/${runId}`);
    ctx.body = { runId, scheduledMs, scheduledAt: isoOf(scheduledMs) };
  });
}
