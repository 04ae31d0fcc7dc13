/** Exit codes scripts can rely on (docs/cli.md lists them), and the error that carries one. */

export const EXIT = {
  OK: 0,
  /** The server answered with an error (4xx/5xx), or the thing asked for does not exist. */
  FAILED: 1,
  /** Bad command line or bad input file: nothing was sent. */
  USAGE: 2,
  /** No answer from the server (connection refused, DNS, timeout). */
  UNREACHABLE: 3,
  /** A wait (drain, check --wait, follow --timeout) ran out before the condition held. */
  TIMEOUT: 4,
  /** A followed run ended in a state other than succeeded. */
  RUN_FAILED: 5,
  /** `rota cluster`: no node leads, or etcd is unhealthy (the view is printed first). */
  UNHEALTHY: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as `rota: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT.USAGE);

/** A `--limit` value: a whole number from 1 to `max`, else a usage error. */
export function parseLimit(v: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw usageError(`--limit ${v}: use a whole number from 1 to ${max}`);
  return n;
}
