/**
 * A run's output on stdout: `rota logs RUN` prints it whole, `--follow` (here and in `rota runs`,
 * `rota task run`) as it is written until the run ends. Both read GET /api/v1/runs/{run}/output,
 * which any node answers by streaming the file from the node that ran the run. A followed run
 * exits 0 if it succeeded, 5 otherwise, 4 on --timeout.
 */
import { parseDurationMs } from '../domain/duration.js';
import { sleep, type CliContext } from './context.js';
import { CliError, EXIT, usageError } from './exit.js';
import { FINAL_STATES, type ApiRun, type ApiTask } from './api-types.js';
import { duration } from './output.js';

const POLL_MS = 300;

export function parseTimeoutMs(v: string | undefined, flag = '--timeout'): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDurationMs(v);
  } catch {
    throw usageError(`${flag} ${v}: use a duration such as 30s, 5m, 1h`);
  }
}

/**
 * Writes the run's output to stdout (following it while it runs when `follow`); returns the bytes
 * written and where they came from (`tail`: only the run record's last part was left).
 */
export async function printOutput(ctx: CliContext, runId: string, follow: boolean, signal?: AbortSignal, printed = { bytes: 0 }): Promise<{ bytes: number; source: string }> {
  const { headers, body } = await ctx.api.stream(`/api/v1/runs/${encodeURIComponent(runId)}/output`, { follow: follow || undefined }, signal);
  for await (const chunk of body) {
    printed.bytes += chunk.length;
    if (!process.stdout.write(chunk)) await new Promise((r) => process.stdout.once('drain', r));
  }
  return { bytes: printed.bytes, source: headers.get('x-rota-output') ?? 'file' };
}

/** Follows one run of `task` to its end; sets the exit code from its outcome. */
export async function followRun(ctx: CliContext, task: ApiTask, runId: string, timeout?: string): Promise<void> {
  const timeoutMs = parseTimeoutMs(timeout);
  const abort = new AbortController();
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => abort.abort(), timeoutMs);
  const timedOut = (state: string) => new CliError(`run ${runId} is still ${state} after ${timeout}: it goes on; rota logs ${runId} --follow picks it up again`, EXIT.TIMEOUT);
  try {
    // A firing waits to be claimed (pending) before there is anything to read.
    let run = await ctx.api.get<ApiRun>(`/api/v1/runs/${runId}`);
    while (run.state === 'pending') {
      if (abort.signal.aborted) throw timedOut(run.state);
      await sleep(POLL_MS);
      run = await ctx.api.get<ApiRun>(`/api/v1/runs/${runId}`);
    }
    const printed = { bytes: 0 };
    let interrupted = false;
    try {
      await printOutput(ctx, runId, true, abort.signal, printed);
    } catch (err) {
      if (abort.signal.aborted) throw timedOut('running');
      // The node that runs it went away mid-stream: say so, and still wait for the outcome.
      interrupted = true;
      process.stderr.write(`${printed.bytes ? '\n' : ''}[output interrupted: ${(err as Error).message}]\n`);
    }
    // The stream ends once the run has; its record may take a moment to be final everywhere.
    run = await ctx.api.get<ApiRun>(`/api/v1/runs/${runId}`);
    while (!FINAL_STATES.includes(run.state)) {
      if (abort.signal.aborted) throw timedOut(run.state);
      await sleep(POLL_MS);
      run = await ctx.api.get<ApiRun>(`/api/v1/runs/${runId}`);
    }
    // Interrupted before anything was printed: what the run left, read once now that it has ended.
    if (interrupted && printed.bytes === 0) await printOutput(ctx, runId, false, abort.signal).catch((err: Error) => process.stderr.write(`[output not readable: ${err.message}]\n`));
    const took = run.startedMs !== undefined && run.endedMs !== undefined ? ` in ${duration(run.endedMs - run.startedMs)}` : '';
    const detail = [run.exitCode !== undefined ? `exit code ${run.exitCode}` : '', run.httpStatus !== undefined ? `HTTP ${run.httpStatus}` : '', run.message ?? ''].filter(Boolean).join(', ');
    process.stderr.write(`run ${run.id} of task ${task.id} (${task.name}) ${run.state}${took}${detail ? `: ${detail}` : ''}\n`);
    if (run.state !== 'succeeded') process.exitCode = EXIT.RUN_FAILED;
  } finally {
    clearTimeout(timer);
  }
}
