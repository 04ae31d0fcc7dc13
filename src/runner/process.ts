import { stat } from 'node:fs/promises';
import { execa } from 'execa';
import type { ProcessAction } from '../domain/task.js';
import { OutputSink, openRunOutput } from './output-sink.js';
import { groupAlive, terminateGroup } from './process-group.js';
import { checkRunAs, resolveRunAs } from './run-as.js';
import { failed, notifyStart, timedOutMessage, type RunContext, type RunOutcome } from './types.js';

export { checkRunAs } from './run-as.js';

/** After the group is gone, how long to wait for the output pipes to drain. */
const DRAIN_MS = 1_000;

/**
 * Runs the command as a child of a small shell that polls the node's lease deadline file. Once
 * the deadline passes (the node is frozen, dead or partitioned and the leader may start this
 * work elsewhere), it stops its whole process group: SIGTERM, then SIGKILL half a second later,
 * all before etcd expires the lease (the deadline is a margin ahead of that). A deadline file
 * that is gone or cannot be read counts as passed: the node writes it before any guard starts,
 * readable by every run-as user (agent.ts deadlineDir), and replaces it atomically, so only a
 * removed directory makes it vanish, and a dead node's processes then lived on for good (a
 * cluster test's leftovers did). It ignores SIGPIPE:
 * when the node died, nobody reads the output pipe any more. It tells the runner the command's
 * own pid on fd 3 (the pid a process manager shows), then closes it.
 */
export const LEASE_GUARD = `exec 2>&1
deadline_file=$1
/bin/sh -c "$2" 3>&- &
child=$!
echo "$child" >&3 2>/dev/null
exec 3>&-
(
  trap '' TERM PIPE
  while kill -0 "$child" 2>/dev/null; do
    deadline=$(cat "$deadline_file" 2>/dev/null)
    if [ -z "$deadline" ] || [ "$(date +%s%3N)" -gt "$deadline" ]; then
      echo "[rota] this node's lease deadline passed (or its deadline file is gone): stopping the process group" 2>/dev/null
      kill -TERM 0 2>/dev/null
      sleep 0.5
      kill -KILL 0
    fi
    sleep 0.2
  done
) 2>/dev/null &
watcher=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT HUP
while :; do
  wait "$child"
  code=$?
  kill -0 "$child" 2>/dev/null || break
done
kill -KILL "$watcher" 2>/dev/null
exit $code`;

type Exit = { code: number | null; signal: NodeJS.Signals | null } | { error: string };

/** The pid the lease guard writes on fd 3 (undefined if it closes without one). */
function commandPid(stream: NodeJS.ReadableStream): Promise<number | undefined> {
  return new Promise((resolve) => {
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    stream.once('end', () => resolve(/^\d+/.test(text.trim()) ? Number(text.trim()) : undefined));
    stream.once('error', () => resolve(undefined));
  });
}

/** The ROTA_* variables every process run sees. */
export function rotaEnv(ctx: RunContext): Record<string, string> {
  return {
    ROTA_TASK_ID: ctx.taskId,
    ROTA_RUN_ID: ctx.runId,
    ROTA_SCHEDULED_AT: String(ctx.scheduledMs),
    ROTA_ATTEMPT: String(ctx.attempt),
  };
}

/**
 * Runs `action.command` through /bin/sh -c in its own process group. The run owns the group:
 * a timeout or an operator kill sends SIGTERM to all of it and SIGKILL after ctx.killGraceMs;
 * processes left behind when the shell exits are terminated the same way. Never rejects.
 */
export async function runProcess(action: ProcessAction, ctx: RunContext): Promise<RunOutcome> {
  try {
    return await run(action, ctx);
  } catch (e) {
    return failed(`process runner error: ${(e as Error).message}`);
  }
}

async function run(action: ProcessAction, ctx: RunContext): Promise<RunOutcome> {
  const refused = checkRunAs(action.user, action.group, ctx.allowedUsers);
  if (refused) return failed(refused);
  const id = await resolveRunAs(action.user, action.group);
  if (typeof id === 'string') return failed(id);
  if (action.cwd) {
    const st = await stat(action.cwd).catch(() => undefined);
    if (!st?.isDirectory()) return failed(`working directory '${action.cwd}' does not exist`);
  }
  const sink = await openRunOutput(ctx);
  if (!(sink instanceof OutputSink)) return sink;

  // One pipe for both streams, so the log shows stdout and stderr in the order they were written.
  const script = `exec 2>&1; ${action.command}`;
  const argv = ctx.deadlineFile ? ['-c', LEASE_GUARD, 'rota-guard', ctx.deadlineFile, script] : ['-c', script];
  const sub = execa('/bin/sh', argv, {
    ...(ctx.deadlineFile ? { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] as const } : { stdin: 'ignore' as const }),
    cwd: action.cwd,
    env: { ...process.env, ...id.env, ...action.env, ...rotaEnv(ctx) },
    extendEnv: false,
    uid: id.uid,
    gid: id.gid,
    detached: true,
    cleanup: false,
    buffer: false,
    reject: false,
    forceKillAfterDelay: false,
  });
  const exited = new Promise<Exit>((resolve) => {
    sub.once('exit', (code, signal) => resolve({ code, signal }));
    // Spawn failures (EPERM on setuid, ...) surface through execa's result.
    sub.then(
      (r) => r.failed && r.exitCode === undefined && !r.signal && resolve({ error: r.originalMessage || r.shortMessage || 'unknown error' }),
      (e: unknown) => resolve({ error: String(e) }),
    );
  });
  const drained = Promise.all([sub.stdout, sub.stderr].map((s) => {
    if (!s) return Promise.resolve();
    s.on('data', (chunk: Buffer) => sink.write(chunk));
    return new Promise<void>((resolve) => {
      s.once('close', resolve);
      s.once('error', () => resolve());
    });
  }));

  const pid = sub.pid;
  let reason: 'timeout' | 'killed' | undefined;
  let termination: Promise<void> | undefined;
  const terminate = (why: 'timeout' | 'killed'): void => {
    if (reason || pid === undefined) return;
    reason = why;
    termination = terminateGroup(pid, ctx.killGraceMs);
  };
  const onAbort = (): void => terminate('killed');
  const timer = ctx.timeoutMs !== undefined && ctx.timeoutMs > 0 ? setTimeout(() => terminate('timeout'), ctx.timeoutMs) : undefined;
  if (pid !== undefined) {
    // The command's own pid: the guard's child (told on fd 3), else the group's leader.
    const side = ctx.deadlineFile ? (sub.stdio[3] as NodeJS.ReadableStream | undefined) : undefined;
    if (side) void commandPid(side).then((p) => notifyStart(ctx, { pid: p ?? pid }));
    else notifyStart(ctx, { pid });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
  }

  const exit = await exited;
  clearTimeout(timer);
  ctx.signal.removeEventListener('abort', onAbort);
  if (pid !== undefined && !termination && groupAlive(pid)) termination = terminateGroup(pid, ctx.killGraceMs);
  await termination;
  let drainTimer: NodeJS.Timeout | undefined;
  await Promise.race([drained, new Promise((r) => (drainTimer = setTimeout(r, DRAIN_MS)))]);
  clearTimeout(drainTimer);
  sub.stdout?.destroy();
  sub.stderr?.destroy();
  await sink.close();
  return outcome(exit, reason, ctx, sink.tailText());
}

function outcome(exit: Exit, reason: 'timeout' | 'killed' | undefined, ctx: RunContext, tail: string): RunOutcome {
  if ('error' in exit) return { state: 'failed', message: `failed to start: ${exit.error}`, outputTail: tail };
  const base: RunOutcome = { state: 'failed', message: '', outputTail: tail };
  if (exit.code !== null) base.exitCode = exit.code;
  if (exit.signal) base.signal = exit.signal;
  if (reason === 'killed') return { ...base, state: 'killed', message: 'killed by operator' };
  if (reason === 'timeout') return { ...base, timedOut: true, message: timedOutMessage(ctx.timeoutMs ?? 0) };
  if (exit.code === 0) return { ...base, state: 'succeeded', message: 'exit code 0' };
  if (exit.code !== null) return { ...base, message: `exit code ${exit.code}` };
  return { ...base, message: `killed by signal ${exit.signal ?? 'unknown'}` };
}
