/** `rota runs [TASK]`: run history by state, trigger and time (GET /api/v1/log), or one run followed live; `rota runs get|kill RUN`. */
import { Command } from 'commander';
import { parseDurationMs } from '../domain/duration.js';
import type { ApiRun, LogPage, Page } from './api-types.js';
import { FINAL_STATES } from './api-types.js';
import { contextOf, type CliContext } from './context.js';
import type { ReplicaStatus } from '../service/replica-service.js';
import { CliError, EXIT, parseLimit, usageError } from './exit.js';
import { followRun, printOutput } from './follow.js';
import { clip, duration, emit, fields, grid, none, time } from './output.js';
import { resolveTask } from './tasks.js';

const STATES = ['pending', 'running', ...FINAL_STATES];
const TRIGGERS = ['schedule', 'manual', 'retry', 'catch-up'];

/** `1h` / `30m` (that long ago), an ISO 8601 time, or epoch ms. */
export function parseSince(v: string, flag: string, nowMs = Date.now()): number {
  if (/^\d{10,}$/.test(v)) return Number(v);
  if (/^\d/.test(v) && /[a-z]$/i.test(v) && !v.includes('-') && !v.includes(':')) {
    try {
      return nowMs - parseDurationMs(v);
    } catch {
      /* not a duration: try a time */
    }
  }
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw usageError(`${flag} ${v}: use a duration ago (30m, 2h, 7d), an ISO 8601 time or epoch ms`);
  return ms;
}

function list(v: string | undefined, allowed: string[], flag: string): string[] {
  const items = (v ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const bad = items.filter((s) => !allowed.includes(s));
  if (bad.length) throw usageError(`${flag} ${bad.join(',')}: use ${allowed.join(', ')}`);
  return items;
}

interface RunsOptions {
  state?: string;
  node?: string;
  trigger?: string;
  since?: string;
  until?: string;
  limit: string;
  follow?: boolean;
  run?: string;
  timeout?: string;
}

/** One run as `key: value` lines: what happened, where, how long, and its output's last part. */
function runFields(r: ApiRun): string {
  const took = r.startedMs !== undefined && r.endedMs !== undefined ? duration(r.endedMs - r.startedMs) : undefined;
  const result = r.exitCode !== undefined ? `exit ${r.exitCode}` : r.httpStatus !== undefined ? `HTTP ${r.httpStatus}` : undefined;
  const head = fields([
    ['run', r.id],
    ['task', r.taskId],
    ['state', r.state],
    ['trigger', r.trigger],
    ['attempt', String(r.attempt)],
    ['replica', r.replica ? String(r.replica) : undefined],
    ['node', r.node],
    ['scheduled', time(r.scheduledMs)],
    ['started', r.startedMs !== undefined ? time(r.startedMs) : undefined],
    ['ended', r.endedMs !== undefined ? time(r.endedMs) : undefined],
    ['took', took],
    ['result', result],
    ['message', r.message],
  ]);
  return r.outputTail ? `${head}output (last part):\n${r.outputTail.replace(/\n?$/, '\n')}` : head;
}

export function runsCommand(): Command {
  const runs = new Command('runs')
    .argument('[task]', 'task id or name (default: every task of the tenant)')
    .description('run history, newest first; --follow streams one run\'s output until it ends')
    .option('--state <states>', `only these states, comma-separated: ${STATES.join(', ')}`)
    .option('--trigger <triggers>', `only these triggers, comma-separated: ${TRIGGERS.join(', ')}`)
    .option('--node <node>', 'only runs on this node')
    .option('--since <time>', 'only runs at or after: 30m, 2h, 7d ago, or an ISO 8601 time, or epoch ms')
    .option('--until <time>', 'only runs at or before (same forms as --since)')
    .option('--limit <n>', 'at most this many (1-500)', '50')
    .option('-f, --follow', "print the output of TASK's running run (else its newest) as it comes, until it ends; exit 5 unless it succeeds")
    .option('--run <runId>', 'with --follow: this run instead')
    .option('--timeout <duration>', 'with --follow: give up after this long (exit 4)')
    .addHelpText(
      'after',
      `
A run's time is its end (else its start, else its scheduled time). Examples:
  rota runs                                  # the tenant's newest 50 runs
  rota runs report --state failed,lost --since 24h
  rota runs report --follow                  # live output of report's current run
  rota task run report --follow              # fire it and watch`,
    )
    .action(async (ref: string | undefined, o: RunsOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (o.follow) {
        if (!ref) throw usageError('--follow needs a TASK');
        const task = await resolveTask(ctx.api, ref);
        let runId = o.run;
        if (!runId) {
          const page = await ctx.api.get<Page<ApiRun>>(`/api/v1/tasks/${task.id}/runs`, { limit: 20 });
          const pick = page.items.find((r) => r.state === 'running') ?? page.items[0];
          if (!pick) throw new CliError(`task ${task.id} (${task.name}) has no runs yet: rota task run ${task.id} --follow fires it and follows`, EXIT.FAILED);
          runId = pick.id;
        }
        await followRun(ctx, task, runId, o.timeout);
        return;
      }
      const limit = parseLimit(o.limit, 500);
      const kinds = [...list(o.state, STATES, '--state'), ...list(o.trigger, TRIGGERS, '--trigger')];
      // With no state or trigger asked for, the log would list audit events too: ask for every run.
      const query = {
        kinds: (kinds.length ? kinds : [...STATES, ...TRIGGERS]).join(','),
        ...(o.since !== undefined ? { from: parseSince(o.since, '--since') } : {}),
        ...(o.until !== undefined ? { to: parseSince(o.until, '--until') } : {}),
        ...(o.node !== undefined ? { node: o.node } : {}),
        ...(ref ? { taskId: (await resolveTask(ctx.api, ref)).id } : {}),
        limit,
      };
      const page = await ctx.api.get<LogPage>('/api/v1/log', query);
      const runs = page.items.flatMap((e) => (e.kind === 'run' ? [{ ...e.run, taskName: e.task.name }] : []));
      emit(ctx.format, { total: page.total, items: runs }, () => {
        if (runs.length === 0) return none('no runs');
        const result = (r: ApiRun) => (r.exitCode !== undefined ? `exit ${r.exitCode}` : r.httpStatus !== undefined ? `HTTP ${r.httpStatus}` : '-');
        const rows = grid<ApiRun & { taskName: string }>(
          [
            { h: 'RUN', v: (r) => r.id },
            { h: 'TASK', v: (r) => r.taskName },
            { h: 'STATE', v: (r) => r.state },
            { h: 'TRIGGER', v: (r) => r.trigger },
            { h: 'ATTEMPT', v: (r) => `${r.attempt}${r.replica ? ` r${r.replica}` : ''}`, wide: true },
            { h: 'NODE', v: (r) => r.node ?? '-' },
            { h: 'SCHEDULED', v: (r) => time(r.scheduledMs), wide: true },
            { h: 'STARTED', v: (r) => time(r.startedMs ?? r.scheduledMs) },
            { h: 'LATE', v: (r) => (r.startedMs !== undefined ? duration(r.startedMs - r.scheduledMs) : '-'), wide: true },
            { h: 'TOOK', v: (r) => (r.startedMs !== undefined && r.endedMs !== undefined ? duration(r.endedMs - r.startedMs) : '-') },
            { h: 'RESULT', v: result, wide: true },
            { h: 'MESSAGE', v: (r) => clip(r.message ?? (result(r) === '-' ? '' : result(r)), 50) },
          ],
          runs,
        );
        return rows + (page.total > runs.length ? none(`(${runs.length} of ${page.total}: --limit, --since and --state narrow it)`) : '');
      });
    });

  // `rota runs get RUN` and `rota runs kill RUN` (a task named get or kill: rota runs ID lists its runs).
  runs
    .command('get')
    .argument('<run>', 'run id (rota runs lists them)')
    .description('show one run: state, node, times, exit code or HTTP status, message, the last part of its output')
    .action(async (runId: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const run = await ctx.api.get<ApiRun>(`/api/v1/runs/${encodeURIComponent(runId)}`);
      emit(ctx.format, run, () => runFields(run));
    });
  runs
    .command('kill')
    .argument('<run>', 'run id')
    .description('kill a run in flight (its process group, its container or its HTTP call); the run ends killed')
    .action(async (runId: string, _o: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const run = await ctx.api.post<ApiRun>(`/api/v1/runs/${encodeURIComponent(runId)}/kill`);
      emit(ctx.format, run, () => `kill asked of run ${run.id} (${run.state}${run.node ? ` on ${run.node}` : ''}): rota runs get ${run.id} shows its end\n`);
    });
  return runs;
}

/** `rota logs RUN [--follow]`: a run's whole output, read from the node that ran it. */
export function logsCommand(): Command {
  return new Command('logs')
    .argument('<run>', 'run id (rota runs lists them), or TASK:REPLICA for a daemon replica\'s current run (web:0)')
    .description("print a run's whole output (stdout and stderr as they came), read on the node that ran it; --follow: as it is written, until the run ends")
    .option('-f, --follow', 'while the run runs, print what it writes until it ends; exit 5 unless it succeeds')
    .option('--timeout <duration>', 'with --follow: give up after this long (exit 4)')
    .addHelpText(
      'after',
      `
The output is the file on the node that ran the run (kept as long as the run history keeps
the run). If that node is gone, only the last part kept with the run record is printed, and
a note on stderr says so. Examples:
  rota logs 42-1760000000000-1 > run.log
  rota logs 42-1760000000000-1 --follow
  rota logs web:1 --follow          # replica 1 of task web (rota task replicas web lists them)`,
    )
    .action(async (ref: string, o: { follow?: boolean; timeout?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const runId = await runOf(ctx, ref);
      if (o.follow) {
        const run = await ctx.api.get<ApiRun>(`/api/v1/runs/${encodeURIComponent(runId)}`);
        await followRun(ctx, await resolveTask(ctx.api, run.taskId), run.id, o.timeout);
        return;
      }
      if (o.timeout !== undefined) throw usageError('--timeout goes with --follow');
      const { source } = await printOutput(ctx, runId, false);
      if (source === 'tail') process.stderr.write(`only the last part of run ${runId}'s output is left: the node that ran it is gone, or the action wrote no output file\n`);
    });
}

/** A run id as given, or the current run of replica N of a task written TASK:N (the process manager's alias). */
async function runOf(ctx: CliContext, ref: string): Promise<string> {
  const alias = /^(.+):(\d+)$/.exec(ref);
  if (!alias) return ref;
  const task = await resolveTask(ctx.api, alias[1]!);
  const replicas = (await ctx.api.get<Page<ReplicaView>>(`/api/v1/tasks/${task.id}/replicas`)).items;
  const r = replicas.find((x) => x.replica === Number(alias[2]));
  if (!r) throw new CliError(`task ${task.id} (${task.name}) has no replica ${alias[2]} (replicas: ${replicas.length})`, EXIT.FAILED);
  if (!r.runId) throw new CliError(`replica ${r.alias} is ${r.state} and has no run yet`, EXIT.FAILED);
  return r.runId;
}

/** A replica as GET /api/v1/tasks/{id}/replicas gives it (the service's record, as JSON). */
export type ReplicaView = ReplicaStatus;
