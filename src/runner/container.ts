import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ContainerAction } from '../domain/task.js';
import { runProcess } from './process.js';
import { failed, type RunContext, type RunOutcome } from './types.js';

const RUNTIMES = ['docker', 'podman'];

/** Full path of the first `docker` or `podman` executable on `pathEnv`, if any. */
export function findContainerRuntime(pathEnv: string = process.env.PATH ?? '', names: string[] = RUNTIMES): string | undefined {
  for (const name of names) {
    for (const dir of pathEnv.split(delimiter)) {
      if (!dir) continue;
      const file = join(dir, name);
      try {
        accessSync(file, constants.X_OK);
        if (statSync(file).isFile()) return file;
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

/** Every `docker` / `podman` executable on PATH, by name and full path (the first of each name). */
function runtimesOnPath(pathEnv: string): { name: string; file: string }[] {
  const out: { name: string; file: string }[] = [];
  for (const name of RUNTIMES) {
    const file = findContainerRuntime(pathEnv, [name]);
    if (file) out.push({ name, file });
  }
  return out;
}

/**
 * The container runtimes that really work here: on PATH and answering `<runtime> info` (a docker
 * client without a reachable engine does not count). Asked once, at start-up.
 */
export async function detectRuntimes(pathEnv: string = process.env.PATH ?? '', timeoutMs = 5_000): Promise<{ name: string; file: string }[]> {
  const found = runtimesOnPath(pathEnv);
  const ok = await Promise.all(found.map((r) => new Promise<boolean>((resolve) => execFile(r.file, ['info'], { timeout: timeoutMs }, (err) => resolve(!err)))));
  return found.filter((_, i) => ok[i]);
}

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The container's name for a run: killing the run removes it by this name. */
export function containerName(runId: string): string {
  return `rota-${runId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

/** `<runtime> run --rm --name N [--pull always] [--network X] [-v V] [-e K=V] image args...`, shell-quoted. */
export function containerCommand(runtime: string, action: ContainerAction, name?: string): string {
  const env = Object.entries(action.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const opts = [
    ...(name ? ['--name', name] : []),
    ...(action.pull ? ['--pull', 'always'] : []),
    ...(action.network ? ['--network', action.network] : []),
    ...(action.volumes ?? []).flatMap((v) => ['-v', v]),
  ];
  return [runtime, 'run', '--rm', ...opts, ...env, action.image, ...action.args].map(shellQuote).join(' ');
}

/**
 * Removes a container now: its grace period is over (the client was sent SIGTERM, which it passed
 * on, then SIGKILL). docker's `rm -f` kills at once; podman's would first wait the image's stop
 * timeout (10 s) again, so it is told not to.
 */
export function removeArgs(runtime: string, name: string): string[] {
  return /podman$/.test(runtime) ? ['rm', '-f', '--time', '0', name] : ['rm', '-f', name];
}

/**
 * Runs the image through the process executor (so timeouts, kills and output work as for a
 * process); a failed outcome if no runtime is installed. A killed or timed-out run also has its
 * container removed by name (killing the CLI client alone may leave the container running).
 * Never rejects.
 */
export async function runContainer(action: ContainerAction, ctx: RunContext, pathEnv?: string): Promise<RunOutcome> {
  const runtime = ctx.containerRuntime ?? findContainerRuntime(pathEnv);
  if (!runtime) return failed('container runtime not available on this node');
  const name = containerName(ctx.runId);
  const outcome = await runProcess({ command: containerCommand(runtime, action, name), env: {} }, ctx);
  if (outcome.state === 'killed' || outcome.timedOut) {
    await new Promise<void>((resolve) => execFile(runtime, removeArgs(runtime, name), { timeout: 15_000 }, () => resolve()));
  }
  return outcome;
}
