/** What every executor receives and returns. A failed run is a RunOutcome value, never an exception. */

export interface RunContext {
  taskId: string;
  runId: string;
  scheduledMs: number;
  attempt: number;
  /** Per-run output file (parent dirs are created); output goes here, capped. */
  logFile: string;
  /** Max bytes written to logFile; then one "[output truncated at N bytes]" line, the rest is dropped. */
  outputCapBytes: number;
  /** How many final bytes of output to return as outputTail. */
  tailBytes: number;
  /** Overall task timeout; http/jsonrpc use the smaller of this and their own action.timeoutMs. */
  timeoutMs?: number;
  /** http/jsonrpc with neither a task nor an action timeout give up after this (the node's runs.httpTimeoutMs). */
  defaultHttpTimeoutMs?: number;
  /** SIGTERM to the process group, then SIGKILL after this. */
  killGraceMs: number;
  /** Aborted => kill requested by an operator (state 'killed'). */
  signal: AbortSignal;
  /** Run-as allowlist (users and groups); the server's own user is always allowed. */
  allowedUsers: string[];
  /**
   * Process runs: a file holding the node's lease deadline (epoch ms). A guard in the process
   * group stops the group once the deadline passes, even when the node itself is frozen or dead.
   */
  deadlineFile?: string;
  /** Container runs: the runtime this node advertised (docker or podman); else the first on PATH. */
  containerRuntime?: string;
  /** Called once the process has spawned / the request is sent. */
  onStart?: (info: { pid?: number }) => void;
}

export interface RunOutcome {
  state: 'succeeded' | 'failed' | 'killed';
  exitCode?: number;
  signal?: string;
  httpStatus?: number;
  /** Human readable: "exit code 3", "HTTP 500 (expected 2xx)", "timed out after 5s", ... */
  message: string;
  /** Last tailBytes of output (process: stdout+stderr as they arrived; http: response body). */
  outputTail?: string;
  timedOut?: boolean;
}

/** "timed out after 5s", "timed out after 0.25s". */
export function timedOutMessage(timeoutMs: number): string {
  return `timed out after ${Number((timeoutMs / 1000).toFixed(3))}s`;
}

/** Shorthand for a failure that happened before anything ran. */
export function failed(message: string): RunOutcome {
  return { state: 'failed', message };
}

/** Calls ctx.onStart without letting a throwing callback break the never-throw contract. */
export function notifyStart(ctx: RunContext, info: { pid?: number }): void {
  try {
    ctx.onStart?.(info);
  } catch {
    /* the callback's failure is not the run's failure */
  }
}
