/** Reading tasks: every page of a list, and a TASK argument (an id or a name) resolved to its task. */
import { ApiError, type ApiClient } from './client.js';
import { CliError, EXIT } from './exit.js';
import type { ApiTask, Page } from './api-types.js';
import type { TaskFilter as ListFilter } from '../service/task-index.js';

/** The list's query: the service's filter, with the last outcomes as the comma list the API takes. */
export type TaskFilter = Omit<ListFilter, 'lastOutcome'> & { lastOutcome?: string };

/** Every task of the token's tenant that matches: by id following `next`, in another order by offset. */
export async function allTasks(api: ApiClient, filter: TaskFilter = {}, sort: 'id' | 'name' | 'next' | 'last' = 'id'): Promise<ApiTask[]> {
  const out: ApiTask[] = [];
  if (sort !== 'id') {
    for (let total = Infinity; out.length < total; ) {
      const page = await api.get<Page<ApiTask> & { total: number }>('/api/v1/tasks', { ...filter, sort, limit: 500, offset: out.length });
      out.push(...page.items);
      total = page.items.length ? page.total : out.length;
    }
    return out;
  }
  let after: string | undefined;
  do {
    const page = await api.get<Page<ApiTask>>('/api/v1/tasks', { ...filter, limit: 500, after });
    out.push(...page.items);
    after = page.next;
  } while (after);
  return out;
}

/** A listed task without what the list adds (its last outcome, its runs in flight): the definition, as GET answers it. */
function definition(t: ApiTask): ApiTask {
  const { lastRun: _lastRun, running: _running, ...def } = t;
  return def as ApiTask;
}

/** A task by id (digits) or exact name; exit 1 with a clear message when there is none. */
export async function resolveTask(api: ApiClient, ref: string): Promise<ApiTask> {
  if (/^\d+$/.test(ref)) {
    try {
      return await api.get<ApiTask>(`/api/v1/tasks/${ref}`);
    } catch (err) {
      // Not an id in this tenant: it may still be a task named with digits.
      if (!(err instanceof ApiError && err.status === 404)) throw err;
    }
  }
  const found = (await allTasks(api, { name: ref })).find((t) => t.name === ref);
  if (!found) throw new CliError(`no task with id or name '${ref}' (in this token's tenant): see rota task ls`, EXIT.FAILED);
  return definition(found);
}
