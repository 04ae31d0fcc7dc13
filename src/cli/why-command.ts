/** `rota why TASK [TIME]`: what became of each instant of a task's schedule, and why (GET /api/v1/tasks/{id}/slots). */
import { Command } from 'commander';
import { contextOf } from './context.js';
import { parseLimit } from './exit.js';
import { clip, emit, table, time } from './output.js';
import { parseSince } from './runs-command.js';
import { resolveTask } from './tasks.js';

interface ApiSlot {
  scheduledAt: number;
  trigger: 'schedule' | 'manual';
  outcome: string;
  reason?: string;
  runs: { attempt: number; node?: string; state: string; latenessMs?: number; message?: string }[];
}

interface WhyOptions {
  since?: string;
  limit: string;
}

export function whyCommand(): Command {
  return new Command('why')
    .argument('<task>', 'task id or name')
    .argument('[time]', 'the instant to explain: an ISO 8601 time, epoch ms, or a duration ago (30m); the slot at it (or the last before it) is shown in full')
    .description('why did (or did not) a task run: each instant its schedule had, its outcome and the reason in words')
    .option('--since <time>', 'list the slots from then (30m, 2h, 7d ago, ISO 8601 or epoch ms)', '1h')
    .option('--limit <n>', 'at most this many slots, newest first (1-1000)', '20')
    .addHelpText(
      'after',
      `
Outcomes: succeeded, failed, running, pending, skipped, missed, paused, lost. Examples:
  rota why report                         # the last hour's slots, newest first
  rota why report 2026-12-06T03:00:00Z    # the 03:00 firing in full: its runs and why`,
    )
    .action(async (ref: string, at: string | undefined, o: WhyOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const limit = parseLimit(o.limit, 1000);
      const task = await resolveTask(ctx.api, ref);
      const path = `/api/v1/tasks/${task.id}/slots`;
      if (at !== undefined) {
        const ms = parseSince(at, 'TIME');
        // The slot at TIME or the last one before it (within a day): the newest of that range.
        const page = await ctx.api.get<{ items: ApiSlot[] }>(path, { from: ms - 86_400_000, to: ms, limit: 1 });
        const slot = page.items[0];
        emit(ctx.format, slot ?? null, () => {
          if (!slot) return `${task.name} had no instant in the day before ${time(ms)}\n`;
          const head = `${task.name} at ${time(slot.scheduledAt)}${slot.trigger === 'manual' ? ' (manual trigger)' : ''}: ${slot.outcome}${slot.reason ? `\n  ${slot.reason}` : ''}\n`;
          if (!slot.runs.length) return head;
          return head + '\n' + table(['ATTEMPT', 'STATE', 'NODE', 'LATE', 'MESSAGE'], slot.runs.map((r) => [String(r.attempt), r.state, r.node ?? '-', r.latenessMs !== undefined ? `${r.latenessMs} ms` : '-', clip(r.message ?? '', 60)]));
        });
        return;
      }
      const page = await ctx.api.get<{ items: ApiSlot[]; next?: string }>(path, { from: parseSince(o.since ?? '1h', '--since'), limit });
      emit(ctx.format, page, () => {
        if (!page.items.length) return `${task.name} had no instant in that range\n`;
        return table(
          ['INSTANT', 'TRIGGER', 'OUTCOME', 'RUNS', 'REASON'],
          page.items.map((s) => [time(s.scheduledAt), s.trigger, s.outcome, String(s.runs.length), clip(s.reason ?? '', 80)]),
        );
      });
    });
}
