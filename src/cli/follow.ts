/**
 * `--follow`: a run's output as it is written, until the run ends. The output is read through
 * the node the CLI talks to (GET /api/v1/tasks/{id}/replicas/{i}/output, which reads the file on
 * the node that runs it), polled every POLL_MS; complete lines are printed while the run is
 * live, the rest once it has ended. Exit 0 if it succeeded, 5 otherwise, 4 on --timeout.
 */
import { parseDurationMs } from '../domain/duration.js';
import { ApiError } from './client.js';
import { sleep, type CliContext } from './context.js';
import { CliError, EXIT, usageError } from './exit.js';
import { FINAL_STATES, type ApiRun, type ApiTask } from './api-types.js';
import { duration } from './output.js';

const POLL_MS = 300;
/** The largest tail the output route gives; longer output is matched up by its last printed part. */
const MAX_TAIL_BYTES = 1024 * 1024;
const OVERLAP_CHARS = 256;

interface ReplicaOutput {
  runId: string | null;
  output: string;
  truncated: boolean;
}

export function parseTimeoutMs(v: string | undefined, flag = '--timeout'): number | undefined {
  if (v === undefined) return undefined;
  try {
    return parseDurationMs(v);
  } catch {
    throw usageError(`${flag} ${v}: use a duration such as 30s, 5m, 1h`);
  }
}

/** Prints only what was not printed yet of the growing output `text`. */
class OutputPrinter {
  private printed = 0;
  private tail = '';

  /** `partial`: hold back an unfinished last line (the run still writes). */
  show(text: string, whole: boolean, partial: boolean): void {
    let fresh: string;
    if (whole) {
      fresh = text.slice(this.printed);
    } else {
      // Only the tail of a long output came back: continue after what was printed last.
      const at = this.tail ? text.lastIndexOf(this.tail) : -1;
      fresh = at >= 0 ? text.slice(at + this.tail.length) : `${this.printed ? '\n[... output skipped ...]\n' : ''}${text}`;
    }
    if (partial) fresh = fresh.slice(0, fresh.lastIndexOf('\n') + 1);
    if (!fresh) return;
    process.stdout.write(fresh);
    this.printed += fresh.length;
    this.tail = (this.tail + fresh).slice(-OVERLAP_CHARS);
  }

  get any(): boolean {
    return this.printed > 0;
  }
}

async function outputOf(ctx: CliContext, run: ApiRun): Promise<ReplicaOutput | null> {
  try {
    return await ctx.api.get<ReplicaOutput>(`/api/v1/tasks/${run.taskId}/replicas/${run.replica ?? 0}/output`, { bytes: MAX_TAIL_BYTES });
  } catch (err) {
    // The owning node may be gone or busy: the run record's tail still comes at the end.
    if (err instanceof ApiError) return null;
    throw err;
  }
}

/** Follows one run of `task` to its end; sets the exit code from its outcome. */
export async function followRun(ctx: CliContext, task: ApiTask, runId: string, timeout?: string): Promise<void> {
  const timeoutMs = parseTimeoutMs(timeout);
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  const printer = new OutputPrinter();
  for (;;) {
    const run = await ctx.api.get<ApiRun>(`/api/v1/runs/${runId}`);
    const ended = FINAL_STATES.includes(run.state);
    if (run.state !== 'pending') {
      const out = await outputOf(ctx, run);
      if (out && out.runId === runId) printer.show(out.output, !out.truncated, !ended);
      else if (ended && run.outputTail) printer.show(run.outputTail, !printer.any, false);
    }
    if (ended) {
      const took = run.startedMs !== undefined && run.endedMs !== undefined ? ` in ${duration(run.endedMs - run.startedMs)}` : '';
      const detail = [run.exitCode !== undefined ? `exit code ${run.exitCode}` : '', run.httpStatus !== undefined ? `HTTP ${run.httpStatus}` : '', run.message ?? ''].filter(Boolean).join(', ');
      process.stderr.write(`run ${run.id} of task ${task.id} (${task.name}) ${run.state}${took}${detail ? `: ${detail}` : ''}\n`);
      if (run.state !== 'succeeded') process.exitCode = EXIT.RUN_FAILED;
      return;
    }
    if (Date.now() >= deadline) throw new CliError(`run ${runId} is still ${run.state} after ${timeout}: it goes on; rota runs ${task.id} --follow picks it up again`, EXIT.TIMEOUT);
    await sleep(POLL_MS);
  }
}
