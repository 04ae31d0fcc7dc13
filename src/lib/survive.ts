import type { Logger } from '../log.js';

/** Counts a survived failure by where it happened (Metrics.survived: rota_errors_survived_total). */
export type SurvivedCounter = (where: string) => void;

/**
 * Awaits a step whose failure must not stop its caller (a clean-up, a best-effort delete, a
 * stop on the way out): a failure is logged at warn with `what` and counted, never dropped
 * without a word.
 */
export async function survive(p: Promise<unknown> | null | undefined, log: Logger, where: string, what: string, count?: SurvivedCounter): Promise<void> {
  try {
    await p;
  } catch (err) {
    log.warn({ err: (err as Error)?.message ?? String(err), where }, what);
    count?.(where);
  }
}
