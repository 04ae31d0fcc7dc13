/** `rota task ls|get|add|edit|rm|pause|resume|run`. */
import { Command, Option } from 'commander';
import { SERVER_FIELDS, type ApiTask } from './api-types.js';
import { FAILING_STATES } from '../domain/task-order.js';
import { contextOf, type CliContext } from './context.js';
import { actionText, clip, emit, fields, grid, none, scheduleText, serialize, time } from './output.js';
import { newTaskBody, taskPatch, type TaskFlags } from './task-body.js';
import { allTasks, resolveTask } from './tasks.js';
import { followRun } from './follow.js';
import type { ReplicaView } from './runs-command.js';
import { usageError } from './exit.js';

function taskRows(tasks: ApiTask[]): string {
  if (tasks.length === 0) return none('no tasks');
  return grid<ApiTask>(
    [
      { h: 'ID', v: (t) => t.id },
      { h: 'NAME', v: (t) => t.name },
      { h: 'GROUP', v: (t) => t.group ?? '-' },
      { h: 'STATE', v: (t) => (t.enabled ? 'enabled' : 'paused') },
      { h: 'SCHEDULE', v: (t) => scheduleText(t.schedule) },
      { h: 'LAST', v: (t) => lastText(t) },
      { h: 'REPLICAS', v: (t) => String(t.replicas ?? 1), wide: true },
      { h: 'OVERLAP', v: (t) => String(t.policies?.overlap ?? '-'), wide: true },
      { h: 'LABELS', v: (t) => (t.labels && Object.keys(t.labels).length ? Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(',') : '-'), wide: true },
      { h: 'UPDATED', v: (t) => time(typeof t.updatedMs === 'number' ? t.updatedMs : undefined), wide: true },
      { h: 'ACTION', v: (t) => actionText(t.action) },
    ],
    tasks,
  );
}

/** The newest finished run's state and age, "running" first when a run is in flight. */
function lastText(t: ApiTask): string {
  const last = t.lastRun as { state: string; endedMs: number } | null | undefined;
  const ran = last ? `${last.state} ${time(last.endedMs)}` : '-';
  return typeof t.running === 'number' && t.running > 0 ? `running (${t.running}); ${ran}` : ran;
}

function taskDetail(t: ApiTask): string {
  const labels = t.labels && Object.keys(t.labels).length ? Object.entries(t.labels).map(([k, v]) => `${k}=${v}`).join(', ') : undefined;
  return (
    fields([
      ['id', t.id],
      ['name', t.name],
      ['group', t.group],
      ['state', t.enabled ? 'enabled' : 'paused'],
      ['schedule', scheduleText(t.schedule)],
      ['action', actionText(t.action)],
      ['replicas', t.replicas !== undefined ? String(t.replicas) : undefined],
      ['labels', labels],
      ['created', time(t.createdMs as number | undefined)],
      ['updated', time(t.updatedMs as number | undefined)],
    ]) +
    '\ndefinition:\n' +
    serialize('yaml', { schedule: t.schedule, action: t.action, policies: t.policies, placement: t.placement })
      .split('\n')
      .map((l) => (l ? `  ${l}` : l))
      .join('\n')
  );
}

/** The flags add and edit share (the common cases; -f FILE for everything else). */
function withTaskFlags(cmd: Command): Command {
  return cmd
    .option('-f, --file <file>', 'the task as JSON or YAML (- reads stdin); flags override its fields')
    .option('--name <name>', 'task name (unique in the tenant)')
    .option('--group <group>', 'group name')
    .option('--cron <expr>', "cron schedule: 5 fields, or 6 with seconds first, or @hourly, @daily, ...")
    .option('--tz <zone>', 'IANA time zone of --cron (default UTC)')
    .option('--every <duration>', 'interval schedule, e.g. 30s, 5m, 1h30m')
    .option('--at <time>', 'one-shot schedule: ISO 8601 time or epoch ms')
    .option('--manual', 'fires only when triggered (rota task run)')
    .option('--daemon', 'keeps --replicas processes running')
    .option('--http <url>', 'action: call this URL')
    .option('--method <method>', 'HTTP method of --http (default GET)')
    .option('--command <cmd>', 'action: run this shell command')
    .option('--replicas <n>', 'processes per firing (daemon: kept running)')
    .option('--timeout <duration>', 'policies.timeoutMs: kill or give up after this long')
    .addOption(new Option('--overlap <policy>', 'policies.overlap: what a firing does while the last one runs').choices(['allow', 'forbid', 'replace']))
    .option('--label <key=value>', 'a label (repeatable)', (v: string, prev: string[] = []) => [...prev, v]);
}

function printTask(ctx: CliContext, t: ApiTask, verb?: string): void {
  emit(ctx.format, t, () => (verb ? `${verb} task ${t.id} (${t.name})\n` : taskDetail(t)));
}

export function taskCommand(): Command {
  const task = new Command('task').description('list, show, create, change, delete, pause, resume and trigger tasks');

  task
    .command('ls')
    .alias('list')
    .description("list the tenant's tasks (every page)")
    .option('--name <text>', 'only names containing this text')
    .option('--group <group>', 'only this group')
    .addOption(new Option('--kind <kind>', 'only this action or schedule kind').choices(['http', 'process', 'jsonrpc', 'container', 'cron', 'every', 'at', 'now', 'manual', 'daemon']))
    .option('--enabled', 'only enabled tasks')
    .option('--paused', 'only paused tasks')
    .option('--running', 'only tasks with a run in flight now')
    .option('--failing', 'only tasks whose last run failed (failed, lost, expired or killed)')
    .addOption(new Option('--sort <order>', 'id (creation), name, next (next firing) or last (last outcome: failing first)').choices(['id', 'name', 'next', 'last']).default('id'))
    .action(async (o: { name?: string; group?: string; kind?: string; enabled?: boolean; paused?: boolean; running?: boolean; failing?: boolean; sort: 'id' | 'name' | 'next' | 'last' }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (o.enabled && o.paused) throw usageError('give --enabled or --paused, not both');
      const enabled = o.enabled ? true : o.paused ? false : undefined;
      const tasks = await allTasks(ctx.api, { name: o.name, group: o.group, kind: o.kind, enabled, ...(o.running ? { running: true } : {}), ...(o.failing ? { lastOutcome: FAILING_STATES.join(',') } : {}) }, o.sort);
      emit(ctx.format, { items: tasks }, () => taskRows(tasks));
    });

  task
    .command('get')
    .argument('<task>', 'task id or name')
    .description('show one task (-o json|yaml: the full record, which task add -f and import accept back)')
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      printTask(ctx, await resolveTask(ctx.api, ref));
    });

  withTaskFlags(task.command('add').description('create a task from -f FILE and/or flags'))
    .option('--disabled', 'create it paused')
    .addHelpText(
      'after',
      `
Examples:
  rota task add --name ping --every 30s --http http://127.0.0.1:9000/hook
  rota task add --name report --cron '0 30 2 * * *' --tz Europe/Berlin --command /opt/report.sh
  rota task add -f task.yaml
  rota task get report -o yaml | sed 's/report/report2/' | rota task add -f -`,
    )
    .action(async (o: TaskFlags, cmd: Command) => {
      const ctx = contextOf(cmd);
      const body = newTaskBody(o);
      for (const k of SERVER_FIELDS) delete body[k];
      printTask(ctx, await ctx.api.post<ApiTask>('/api/v1/tasks', body), 'created');
    });

  withTaskFlags(task.command('edit').argument('<task>', 'task id or name').description('change some fields of a task (PATCH): from -f FILE and/or flags'))
    .addHelpText(
      'after',
      `
Only the fields given change; a whole schedule, action or policies object is replaced, except
that --tz alone keeps the cron expression, --method alone keeps the URL, and --timeout or
--overlap keep the other policies. Examples:
  rota task edit report --cron '0 0 3 * * *'
  rota task edit 12 --tz America/New_York
  rota task edit ping -f patch.yaml`,
    )
    .action(async (ref: string, o: TaskFlags, cmd: Command) => {
      const ctx = contextOf(cmd);
      const current = await resolveTask(ctx.api, ref);
      printTask(ctx, await ctx.api.patch<ApiTask>(`/api/v1/tasks/${current.id}`, taskPatch(o, current)), 'updated');
    });

  task
    .command('rm')
    .alias('delete')
    .argument('<task...>', 'task ids or names')
    .description('delete tasks with their history (runs in flight finish)')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const done: { id: string; name: string }[] = [];
      for (const ref of refs) {
        const t = await resolveTask(ctx.api, ref);
        await ctx.api.delete(`/api/v1/tasks/${t.id}`);
        done.push({ id: t.id, name: t.name });
      }
      emit(ctx.format, { deleted: done }, () => done.map((t) => `deleted task ${t.id} (${t.name})`).join('\n'));
    });

  for (const [verb, past, what] of [
    ['pause', 'paused', 'stop firing (runs in flight go on)'],
    ['resume', 'resumed', 'fire again from now on (no catch-up of the pause)'],
    ['restart', 'restarted', 'stop then start: every replica of a daemon (or one: --replica N); any other task has its live runs killed and fires now'],
  ] as const) {
    const c = task.command(verb).argument('<task...>', 'task ids or names').description(what);
    if (verb === 'restart') c.option('--replica <n>', "only this replica of a daemon (0-based): its run is killed and the leader starts the next");
    c.action(async (refs: string[], o: { replica?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (o.replica !== undefined) {
        if (!/^\d+$/.test(o.replica)) throw usageError(`--replica ${o.replica}: use a replica index, 0 or more`);
        const out: { task: string; replica: number; runId?: string; node?: string }[] = [];
        for (const ref of refs) {
          const t = await resolveTask(ctx.api, ref);
          const r = await ctx.api.post<{ replica: number; runId?: string; node?: string }>(`/api/v1/tasks/${t.id}/replicas/${o.replica}/restart`);
          out.push({ task: t.id, ...r });
        }
        emit(ctx.format, { items: out }, () => out.map((r) => `restarting replica ${r.replica} of task ${r.task}: run ${r.runId ?? '-'}${r.node ? ` on ${r.node}` : ''} killed, the leader starts the next`).join('\n'));
        return;
      }
      const out: ApiTask[] = [];
      for (const ref of refs) out.push(await ctx.api.post<ApiTask>(`/api/v1/tasks/${(await resolveTask(ctx.api, ref)).id}/${verb}`));
      emit(ctx.format, { items: out }, () => out.map((t) => `${past} task ${t.id} (${t.name})`).join('\n'));
    });
  }

  task
    .command('replicas')
    .argument('<task>', 'task id or name')
    .description("a task's replicas: state, node, pid, restarts, last exit code and current run (rota logs TASK:N prints one's output)")
    .action(async (ref: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const t = await resolveTask(ctx.api, ref);
      const page = await ctx.api.get<{ items: ReplicaView[] }>(`/api/v1/tasks/${t.id}/replicas`);
      emit(ctx.format, page, () =>
        grid<ReplicaView>(
          [
            { h: 'REPLICA', v: (r) => r.alias },
            { h: 'STATE', v: (r) => r.state },
            { h: 'NODE', v: (r) => r.node ?? '-' },
            { h: 'PID', v: (r) => (r.pid !== undefined ? String(r.pid) : '-') },
            { h: 'RESTARTS', v: (r) => String(r.restarts) },
            { h: 'LAST-EXIT', v: (r) => (r.lastExitCode !== undefined ? String(r.lastExitCode) : '-') },
            { h: 'STARTED', v: (r) => time(r.startedMs), wide: true },
            { h: 'BACKOFF', v: (r) => (r.backoffMs !== undefined ? `${r.backoffMs} ms` : '-'), wide: true },
            { h: 'RUN', v: (r) => r.runId ?? '-' },
          ],
          page.items,
        ),
      );
    });

  task
    .command('run')
    .alias('trigger')
    .argument('<task>', 'task id or name')
    .description('fire a task now (also when paused)')
    .option('-p, --params <json>', 'params for this firing, as a JSON object (see docs/api.md, Trigger params)')
    .option('--follow', "print the run's output as it comes, until it ends; exit 5 if it does not succeed")
    .option('--timeout <duration>', 'with --follow: give up after this long (exit 4)')
    .action(async (ref: string, o: { params?: string; follow?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      let params: unknown;
      if (o.params !== undefined) {
        try {
          params = JSON.parse(o.params);
        } catch {
          throw usageError(`--params is not JSON: ${clip(o.params)}`);
        }
        if (!params || typeof params !== 'object' || Array.isArray(params)) throw usageError('--params must be a JSON object');
      }
      const t = await resolveTask(ctx.api, ref);
      const res = await ctx.api.post<{ runId: string; scheduledMs: number }>(`/api/v1/tasks/${t.id}/trigger`, params === undefined ? undefined : { params });
      if (!o.follow) {
        emit(ctx.format, res, () => `triggered task ${t.id} (${t.name}): run ${res.runId}`);
        return;
      }
      process.stderr.write(`triggered task ${t.id} (${t.name}): run ${res.runId}\n`);
      await followRun(ctx, t, res.runId, o.timeout);
    });

  return task;
}
