/**
 * etcd's errors as the rest of Rota needs them: whatever the etcd3 client throws is one of a
 * few faults the service and every API map once (api/errors.ts). Only src/store knows the
 * client's error classes and etcd's messages.
 */

/** unavailable: unreachable, no quorum, no leader, timed out; nospace: the NOSPACE alarm is raised (writes refused, reads work). */
export type StoreFault = 'unavailable' | 'nospace';

/** The client's classes for "no answer now" (etcd3 1.1.2; cockatiel's open breaker included). */
const UNAVAILABLE_CLASSES = /^(GRPCUnavailableError|GRPCDeadlineExceededError|GRPCCancelledError|ClientClosedError|BrokenCircuitError)$/;
const UNAVAILABLE_MESSAGES = /etcdserver: (no leader|request timed out|leader changed|too many requests|server stopped)|No connection established|ECONNREFUSED|circuit breaker is open/i;
const NOSPACE_MESSAGES = /database space exceeded|NOSPACE/i;

/** The fault an error from the etcd client stands for, or null (a bug, a refused request: not etcd's state). */
export function storeFault(err: unknown): StoreFault | null {
  if (!err || typeof err !== 'object') return null;
  const e = err as { message?: unknown; constructor?: { name?: string }; isBrokenCircuitError?: boolean };
  const message = typeof e.message === 'string' ? e.message : '';
  if (NOSPACE_MESSAGES.test(message)) return 'nospace';
  if (e.isBrokenCircuitError || UNAVAILABLE_CLASSES.test(e.constructor?.name ?? '') || UNAVAILABLE_MESSAGES.test(message)) return 'unavailable';
  return null;
}

/** What an API says for each fault (the status is 503 in every dialect). */
export const FAULT_MESSAGES: Record<StoreFault, string> = {
  unavailable: 'etcd is unreachable or has no quorum: nothing can be read or written now; try again shortly',
  nospace: 'etcd is out of space (NOSPACE alarm): reads work, writes are refused until an operator compacts, defragments and disarms it (docs/operations.md)',
};
