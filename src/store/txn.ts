import type { EtcdHandle } from './etcd.js';
import type { Fence } from './election.js';

/**
 * The transaction machinery every guarded write shares (leader-firings.ts, node-firings.ts, plan-store.ts): a
 * checked transaction whose else branch reads what each compare found, batches of items that
 * commit together and leave the stale ones out, and packing within etcd's limits. Every
 * guarded write answers in one vocabulary: `Guarded`.
 */

/** What became of a guarded write: done, a compare of the caller's failed, or the fence did. */
export type Guarded = 'ok' | 'stale' | 'fenced';

export type Op = ReturnType<EtcdHandle['ns']['put']> | ReturnType<ReturnType<EtcdHandle['ns']['delete']>['key']>;

/** A transaction compare: the key, what of it is compared, the value it must equal. */
export type Compare = [key: string, on: 'Mod' | 'Create' | 'Lease', value: number | string];

export type TxnResponses = Awaited<ReturnType<ReturnType<ReturnType<EtcdHandle['ns']['if']>['then']>['commit']>>['responses'];

/** The compare every leader write carries: its election key still has the create revision it won with. */
export const fenceCompare = (fence: Fence): Compare => [fence.key, 'Create', fence.createRevision];

/** What a compare finds in a key as read (absent: revisions and lease 0). */
function found(kv: { mod_revision: string | number; create_revision: string | number; lease: string | number } | undefined, on: Compare[1]): string {
  if (!kv) return '0';
  return String(on === 'Mod' ? kv.mod_revision : on === 'Create' ? kv.create_revision : kv.lease);
}

/** A read op inside a transaction (etcd3's types list only writes for `then`). */
export const readOp = (h: EtcdHandle, key: string): Op => h.ns.get(key) as unknown as Op;

/**
 * A read op that returns keys only (etcd3's builder sets keys_only only on its own exec): the
 * existence of a run record, say, without its output tail.
 */
export const keyOnlyOp = (h: EtcdHandle, key: string): Op => {
  const b = h.ns.get(key);
  (b as unknown as { request: { keys_only: boolean } }).request.keys_only = true;
  return b as unknown as Op;
};

/** The most compares or ops a nested transaction of `Txns.each` holds (etcd counts them against the outer limit). */
const NESTED_OPS = 8;

export class Txns {
  constructor(private readonly h: EtcdHandle) {}

  /** One fenced transaction: ok, stale (a compare of the caller's failed) or fenced (the fence did). */
  async commit(fence: Fence, compares: Compare[], ops: Op[]): Promise<Guarded> {
    const r = await this.checked([fenceCompare(fence), ...compares], ops);
    return r.ok ? 'ok' : r.holds[0] ? 'stale' : 'fenced';
  }

  /**
   * One transaction: `ops` when every compare holds. When one does not, the else branch reads
   * each compare's key in the same transaction, and `holds` says which compares held.
   */
  async checked(compares: Compare[], ops: Op[]): Promise<{ ok: true; revision: number; responses: TxnResponses } | { ok: false; holds: boolean[] }> {
    const { ns } = this.h;
    // The same compare asked by several items (a node's lease, in a batch of its claims) is sent once.
    const ids = new Map<string, number>();
    const unique: Compare[] = [];
    const at = compares.map((c) => {
      const id = `${c[0]}\0${c[1]}\0${c[2]}`;
      let i = ids.get(id);
      if (i === undefined) ids.set(id, (i = unique.push(c) - 1));
      return i;
    });
    const [first, ...rest] = unique;
    let txn = ns.if(first![0], first![1], '==', first![2]);
    for (const [key, on, value] of rest) txn = txn.and(key, on, '==', value);
    const r = await txn.then(...ops).else(...unique.map(([key]) => readOp(this.h, key))).commit();
    if (r.succeeded) return { ok: true, revision: Number(r.header.revision), responses: r.responses };
    const held = unique.map(([, on, value], i) => found(r.responses[i]?.response_range?.kvs[0], on) === String(value));
    return { ok: false, holds: at.map((i) => held[i]!) };
  }

  /**
   * Items committed in one transaction, each by its own compares (etcd's nested transactions:
   * one raft proposal for the batch): an item whose compares fail is `stale` alone and costs the
   * others nothing, no second round. `guard` compares hold for all of them (a node's lease, the
   * leader's fence): when one fails nothing is written and the answer is 'guarded'. For writes
   * whose items fail often on their own (a candidate's claim racing the next candidate's), where
   * batchCommit's rounds would feed the race.
   */
  async each<T, R>(
    guard: Compare[],
    items: T[],
    stale: R,
    parts: (item: T) => { compares: Compare[]; ops: Op[] },
    done: (item: T, at: { revision: number; responses: TxnResponses }) => R,
  ): Promise<R[] | 'guarded'> {
    // etcd counts a nested transaction's own compares and ops against what the outer one leaves
    // of --max-txn-ops: packs of at most the limit less a few.
    const packs = packWithin(items, () => [1], [Math.max(1, this.h.maxTxnOps - NESTED_OPS)]);
    const out = await Promise.all(
      packs.map(async (pack) => {
        const nested = await Promise.all(pack.map((item) => this.nested(parts(item))));
        const r = await this.checked(guard, nested as unknown as Op[]);
        if (!r.ok) return 'guarded' as const;
        return pack.map((item, i) => {
          const t = r.responses[i]?.response_txn;
          return t?.succeeded ? done(item, { revision: r.revision, responses: t.responses }) : stale;
        });
      }),
    );
    return out.includes('guarded') ? 'guarded' : (out as R[][]).flat();
  }

  /** A transaction as an operation of another (etcd 3.3+), keys namespaced as the builder does. */
  private async nested({ compares, ops }: { compares: Compare[]; ops: Op[] }): Promise<{ request_txn: unknown }> {
    const [first, ...rest] = compares;
    let txn = this.h.ns.if(first![0], first![1], '==', first![2]);
    for (const [key, on, value] of rest) txn = txn.and(key, on, '==', value);
    const req = (txn.then(...ops) as unknown as { request: { compare: Promise<unknown>[]; success: Promise<unknown>[] } }).request;
    return { request_txn: { compare: await Promise.all(req.compare), success: await Promise.all(req.success), failure: [] } };
  }

  /**
   * Items committed together, in one transaction, fenced when `fence` is given. When a compare
   * fails, the stale items (one of their own compares failed) get `stale` and the others go
   * again together: a few rounds, then one by one (together()). So a firing the leader took
   * back, or one stale cursor, costs its batch one more transaction, not one per item. Claims,
   * outcomes, the leader's plans and its repair moves all commit this way. `shared` adds ops
   * built from the whole batch (a plan chunk holding every item's firings). 'fenced' when the
   * fence failed (this node no longer leads).
   */
  async batchCommit<T, R>(
    fence: Fence | null,
    items: T[],
    stale: R,
    parts: (item: T) => { compares: Compare[]; ops: Op[] },
    done: (item: T, at: { revision: number; responses: TxnResponses; opsAt: number }) => R,
    shared?: (batch: T[]) => Op[],
  ): Promise<R[] | 'fenced'> {
    const lead: Compare[] = fence ? [fenceCompare(fence)] : [];
    const fencedOut = new Error('fenced');
    try {
      return await together(items, stale, async (batch) => {
        const each = batch.map(parts);
        const r = await this.checked([...lead, ...each.flatMap((e) => e.compares)], [...each.flatMap((e) => e.ops), ...(shared?.(batch) ?? [])]);
        if (r.ok) {
          const opsAt = each.map((_, i) => each.slice(0, i).reduce((n, e) => n + e.ops.length, 0));
          return { ok: true, results: batch.map((item, i) => done(item, { revision: r.revision, responses: r.responses, opsAt: opsAt[i]! })) };
        }
        if (lead.length > 0 && !r.holds[0]) throw fencedOut;
        let at = lead.length;
        return { ok: false, fresh: each.map((e) => r.holds.slice(at, (at += e.compares.length)).every(Boolean)) };
      });
    } catch (err) {
      if (err === fencedOut) return 'fenced';
      throw err;
    }
  }
}

type Tried<R> = { ok: true; results: R[] } | { ok: false; fresh: boolean[] };

/**
 * The retry rule of batchCommit, apart from etcd: `attempt` commits a batch or says which of
 * its items are still fresh; the stale ones get `stale`, the fresh ones go again together, and
 * after three rounds still contended each goes alone.
 */
async function together<T, R>(items: T[], stale: R, attempt: (batch: T[]) => Promise<Tried<R>>): Promise<R[]> {
  const out: R[] = items.map(() => stale);
  let pending = items.map((_, i) => i);
  for (let round = 0; pending.length > 0; round++) {
    if (round === 3 && pending.length > 1) {
      // Still contended: each alone, its own outcome.
      await Promise.all(
        pending.map(async (i) => {
          const r = await attempt([items[i]!]);
          if (r.ok) out[i] = r.results[0]!;
        }),
      );
      return out;
    }
    const r = await attempt(pending.map((i) => items[i]!));
    if (r.ok) {
      pending.forEach((i, j) => (out[i] = r.results[j]!));
      return out;
    }
    pending = pending.filter((_, j) => r.fresh[j]);
  }
  return out;
}

/**
 * Items in order, cut into packs whose sizes (one number per limit: operations, compares,
 * bytes) add up to at most the limits; an item over a limit on its own goes alone.
 */
export function packWithin<T>(items: T[], size: (item: T) => number[], limits: number[]): T[][] {
  const packs: T[][] = [];
  let pack: T[] = [];
  let used = limits.map(() => 0);
  for (const item of items) {
    const n = size(item);
    if (pack.length > 0 && n.some((x, i) => used[i]! + x > limits[i]!)) {
      packs.push(pack);
      pack = [];
      used = limits.map(() => 0);
    }
    pack.push(item);
    used = used.map((u, i) => u + n[i]!);
  }
  if (pack.length > 0) packs.push(pack);
  return packs;
}
