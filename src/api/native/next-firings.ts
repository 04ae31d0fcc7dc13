/**
 * The next firing instants of a task's schedule, and the next of all the caller's tasks, computed
 * with the scheduler's own nextFire, so what a user is shown is what the planner will do (the
 * dashboard shows them in the task's zone).
 */
import type Router from '@koa/router';
import { nextFire } from '../../domain/schedule.js';
import { callerOf } from '../auth.js';
import { compileQueryValidator } from '../validate.js';
import { isoOf } from './presenter.js';
import * as S from './schemas.js';
import { param, queryOf, type Native } from './native.js';

const nextQuery = compileQueryValidator<{ count: number; after?: number }>(S.NextFiringsQuery);
const upcomingQuery = compileQueryValidator<{ within: number; limit: number }>(S.UpcomingQuery);

export function nextFiringRoutes(r: Router, n: Native): void {
  r.get('/api/v1/tasks/:id/next', n.auth, async (ctx) => {
    const q = queryOf(ctx, nextQuery);
    const task = await n.deps.service.get(callerOf(ctx), param(ctx, 'id'));
    const items: { ms: number; at: string }[] = [];
    // The API edge reads the wall clock; the schedule math takes it as a parameter.
    let after = q.after ?? n.deps.service.now();
    while (items.length < q.count) {
      const ms = nextFire(task.schedule, after, task.createdMs);
      if (ms === null) break;
      items.push({ ms, at: isoOf(ms)! });
      after = ms;
    }
    ctx.body = { tz: 'tz' in task.schedule ? task.schedule.tz : 'UTC', enabled: task.enabled, items };
  });

  /** What fires next across the caller's enabled tasks, soonest first. */
  r.get('/api/v1/upcoming', n.auth, async (ctx) => {
    const q = queryOf(ctx, upcomingQuery);
    const now = n.deps.service.now();
    const { items, more } = await n.deps.service.upcoming(callerOf(ctx), now, q.within, q.limit);
    ctx.body = { fromMs: now, toMs: now + q.within, more, items: items.map((i) => ({ ...i, at: isoOf(i.ms)! })) };
  });
}
