import { Command } from 'commander';
import type { AuditEvent } from '../domain/audit.js';
import type { Page } from './api-types.js';
import { contextOf } from './context.js';
import { parseLimit } from './exit.js';
import { clip, emit, none, table, time } from './output.js';
import { resolveTask } from './tasks.js';

/** An audit event as the API sends it: the domain's record, its action as text (a newer server may name more). */
type ApiEvent = Omit<AuditEvent, 'action'> & { action: string };

/** `rota events [TASK]`: the audit log (who created, changed, paused, triggered, deleted what), newest first. */
export function eventsCommand(): Command {
  return new Command('events')
    .argument('[task]', 'only this task\'s events (id or name)')
    .description('the audit log, newest first: who did what to which task')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .action(async (ref: string | undefined, o: { limit: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const limit = parseLimit(o.limit, 500);
      const page = await ctx.api.get<Page<ApiEvent>>('/api/v1/events', { limit, ...(ref ? { taskId: (await resolveTask(ctx.api, ref)).id } : {}) });
      emit(ctx.format, page, () => {
        if (page.items.length === 0) return none('no events');
        const rows = page.items.map((e) => [time(e.atMs), e.action, e.taskName ?? e.group ?? '-', e.taskId ?? '-', e.actor ?? '-', e.detail ? (ctx.format === 'wide' ? JSON.stringify(e.detail) : clip(JSON.stringify(e.detail), 60)) : '']);
        return table(['TIME', 'ACTION', 'TASK', 'ID', 'BY', 'DETAIL'], rows) + (page.next ? none('(more: --limit)') : '');
      });
    });
}
