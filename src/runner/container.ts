import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ContainerAction } from '../domain/task.js';
import { runProcess } from './process.js';
import { failed, type RunContext, type RunOutcome } from './types.js';

const RUNTIMES = ['docker', 'podman'];

/** Full path of the first `docker` or `podman` executable on `pathEnv`, if any. */
export function findContainerRuntime(pathEnv: string = process.env.PATH ?? ''): string | undefined {
  for (const name of RUNTIMES) {
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

/** Quotes one word for /bin/sh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `<runtime> run --rm [-e K=V] image args...`, shell-quoted. */
export function containerCommand(runtime: string, action: ContainerAction): string {
  const env = Object.entries(action.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return [runtime, 'run', '--rm', ...env, action.image, ...action.args].map(shellQuote).join(' ');
}

/** Runs the image through the process executor; a failed outcome if no runtime is installed. Never rejects. */
export async function runContainer(action: ContainerAction, ctx: RunContext, pathEnv?: string): Promise<RunOutcome> {
  const runtime = findContainerRuntime(pathEnv);
  if (!runtime) return failed('container runtime not available on this node');
  return runProcess({ command: containerCommand(runtime, action), env: {} }, ctx);
}
