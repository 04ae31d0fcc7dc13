/** Task definitions: create, list, read, replace, patch, delete. */
import type Router from '@koa/router';
import type { TaskInput } from '../../service/task-input.js';
import { callerOf } from '../auth.js';
import { expectObject } from '../body.js';
import { presentListedTask, presentTask, stripPresented } from './presenter.js';
import type { RunState } from '../../domain/task.js';
import { listTasksQuery, validateTaskInput, validateTaskPatch } from './inputs.js';
import { param, queryOf, type Native } from './native.js';
import { RotaError } from '../../domain/errors.js';

const KIND_ALIAS: Record<string, string> = { every: 'everyMs', at: 'atMs' };

export function taskRoutes(r: Router, n: Native): void {
  const { service } = n.deps;

  r.post('/api/v1/tasks', n.auth, async (ctx) => {
    const input = validateTaskInput(expectObject(await n.readBody(ctx)));
    const task = await service.create(callerOf(ctx), input);
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tasks/${task.id}`);
    ctx.body = presentTask(task);
  });

  r.get('/api/v1/tasks', n.auth, async (ctx) => {
    const q = queryOf(ctx, listTasksQuery);
    const filter = {
      ...(q.name !== undefined ? { name: q.name } : {}),
      ...(q.group !== undefined ? { group: q.group } : {}),
      ...(q.enabled !== undefined ? { enabled: q.enabled } : {}),
      ...(q.kind !== undefined ? { kind: KIND_ALIAS[q.kind] ?? q.kind } : {}),
      ...(q.running !== undefined ? { running: q.running } : {}),
      ...(q.lastOutcome !== undefined ? { lastOutcome: q.lastOutcome.split(',') as RunState[] } : {}),
    };
    if (q.after !== undefined && q.sort !== 'id') throw new RotaError('INVALID_QUERY', `after pages by id: with sort=${q.sort} use offset`);
    const page = await service.list(callerOf(ctx), filter, q.limit, { ...(q.after !== undefined ? { after: q.after } : {}), offset: q.offset, sort: q.sort });
    ctx.body = { items: page.items.map(presentListedTask), ...(page.next ? { next: page.next } : {}), total: page.total };
  });

  r.get('/api/v1/tasks/:id', n.auth, async (ctx) => {
    ctx.body = presentTask(await service.get(callerOf(ctx), param(ctx, 'id')));
  });

  r.put('/api/v1/tasks/:id', n.auth, async (ctx) => {
    const caller = callerOf(ctx);
    const id = param(ctx, 'id');
    const body = stripPresented(expectObject(await n.readBody(ctx)), { id, tenant: caller.tenant });
    ctx.body = presentTask(await service.replace(caller, id, validateTaskInput(body)));
  });

  r.patch('/api/v1/tasks/:id', n.auth, async (ctx) => {
    const caller = callerOf(ctx);
    const id = param(ctx, 'id');
    const body = stripPresented(expectObject(await n.readBody(ctx)), { id, tenant: caller.tenant });
    const patch = validateTaskPatch(body);
    // JSON merge patch: null removes a field, so the service falls back to its default.
    const partial = Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, v === null ? undefined : v])) as Partial<TaskInput>;
    ctx.body = presentTask(await service.patch(caller, id, partial));
  });

  r.delete('/api/v1/tasks/:id', n.auth, async (ctx) => {
    await service.delete(callerOf(ctx), param(ctx, 'id'));
    ctx.status = 204;
  });
}
