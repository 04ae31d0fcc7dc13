import type { Clock } from '../domain/clock.js';

/** What reading a firing back after an uncertain write says. */
export type ReadBack<T> =
  /** The write applied (now, or an earlier one whose reply was lost): its result. */
  | { kind: 'ours'; value: T }
  /** Nothing of it applied: it may be written again. */
  | { kind: 'unapplied' }
  /** Somebody else changed the firing, or this node can no longer act on it. */
  | { kind: 'other' }
  /** etcd did not answer: read again. */
  | undefined;

export interface SureDeps {
  clock: Clock;
  /** While false, the node's lease is ending: the leader repairs what it held. */
  alive(): boolean;
  onError(err: Error): void;
}

/**
 * A guarded write whose reply may be lost, made sure of its outcome. An etcd error does not say
 * whether the write applied, and neither does a refusal that follows one: a proposal that timed
 * out can still be committed after the firing was read back as unchanged, and the write sent
 * again is then refused by its own compares. So after any error, a refusal is read back too:
 * the firing as this write left it is ours. Returns the write's result, or null (not ours).
 */
export async function sureWrite<T>(d: SureDeps, write: () => Promise<T | null>, readBack: () => Promise<ReadBack<T>>, backoffMs = 100, maxBackoffMs = 1_000): Promise<T | null> {
  let uncertain = false;
  for (let i = 0; ; i++) {
    let refused = false;
    try {
      const r = await write();
      if (r !== null || !uncertain) return r;
      refused = true;
    } catch (err) {
      uncertain = true;
      d.onError(err as Error);
    }
    for (;;) {
      if (!d.alive()) return null;
      if (!refused) await d.clock.sleep(Math.min(backoffMs * 2 ** Math.min(i, 4), maxBackoffMs));
      const back = await readBack().catch(() => undefined);
      if (back === undefined) {
        refused = false; // unreachable: wait before the next look
        continue;
      }
      if (back.kind === 'ours') return back.value;
      if (back.kind === 'other' || refused) return null; // refused and not applied: refused for real
      break; // not applied: write again
    }
  }
}
