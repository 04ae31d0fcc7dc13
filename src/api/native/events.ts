/** The tenant's audit log, newest first. */
import type Router from '@koa/router';
import { callerOf } from '../auth.js';
import { presentEvent } from './presenter.js';
import { listEventsQuery } from './inputs.js';
import { queryOf, type Native } from './native.js';

export function eventRoutes(r: Router, n: Native): void {
  r.get('/api/v1/events', n.auth, async (ctx) => {
    const q = queryOf(ctx, listEventsQuery);
    const page = await n.deps.service.listEvents(callerOf(ctx), q.limit, q.before, q.taskId);
    ctx.body = { items: page.items.map(presentEvent), ...(page.next ? { next: page.next } : {}) };
  });
}
