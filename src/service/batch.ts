/**
 * Batch operations with a result per item: each item succeeds or fails on its own, with a
 * readable reason, and one bad item never stops or undoes the others. Items run one after
 * another in the order given, so two items of one batch that collide (the same new name) are
 * decided in that order. Each item's write is itself atomic (one etcd transaction per task
 * operation), so nothing is left half-written. etcd being unreachable or out of space fails the
 * whole batch (a 503 in the API's envelope), not each item.
 */
import { RotaError } from '../domain/errors.js';
import { storeFault } from '../store/errors.js';

export interface BatchResult<T = unknown> {
  /** The task the item was about, when known (its id after a create). */
  id?: string;
  name?: string;
  /** Why the item failed; absent on success. */
  error?: string;
  /** What the operation returned, on success. */
  value?: T;
}

/** What an item is called before it runs (a request's id or name), for its result. */
export type Describe<I> = (item: I, index: number) => { id?: string; name?: string };

/** The client-facing reason of a failed item; other errors are reported to `onInternal`. */
export function itemError(err: unknown, onInternal?: (err: unknown) => void): string {
  if (err instanceof RotaError) return err.message;
  onInternal?.(err);
  return 'internal error (logged on the server)';
}

export async function runBatch<I, T extends { id?: string; name?: string } | void>(
  items: I[],
  describe: Describe<I>,
  op: (item: I, index: number) => Promise<T>,
  onInternal?: (err: unknown) => void,
): Promise<BatchResult<T>[]> {
  const out: BatchResult<T>[] = [];
  for (const [i, item] of items.entries()) {
    const known = describe(item, i);
    try {
      const value = await op(item, i);
      const got = (value ?? {}) as { id?: string; name?: string };
      out.push({ ...known, ...(got.id !== undefined ? { id: got.id } : {}), ...(got.name !== undefined ? { name: got.name } : {}), value });
    } catch (err) {
      // etcd away or full is no item's fault and holds for every item: the request answers 503.
      if (storeFault(err)) throw err;
      out.push({ ...known, error: itemError(err, onInternal) });
    }
  }
  return out;
}
