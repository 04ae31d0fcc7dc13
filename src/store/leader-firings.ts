import type { EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import type { Fence } from './election.js';
import type { Firing } from '../domain/firing.js';
import type { Run } from '../domain/task.js';
import { FiringReads } from './firing-reads.js';
import { Txns, packWithin, type Compare, type Guarded, type Op } from './txn.js';

/** What the planner wants written for one task in one step. */
export interface FiringPlan {
  taskId: string;
  /** The cursor as the planner read it (mod revision 0 = absent) and where it moves to. */
  cursor: { expectRev: number; toMs: number };
  firings: Firing[];
  /** Run records for firings decided not to run (misfire, overlap). */
  skipped: Run[];
  /** Runs to kill first (overlap replace). */
  kills: { node: string; runId: string }[];
}

export interface PlanResult {
  plan: FiringPlan;
  ok: boolean;
  /** Revision of the write (the cursor's new mod revision) when ok. */
  revision: number;
}

/**
 * The leader's writes of firings (protocol 1's plans, repairs, daemon replicas, manual
 * triggers). Each compares the fence (its election key's create revision) and answers in
 * `Guarded`; every firing is created only if absent, in the same transaction that moves the
 * task's cursor forward from the revision the planner read. Protocol 2's plans are in
 * plan-store.ts.
 */
export class LeaderFirings extends FiringReads {
  private readonly tx: Txns;

  constructor(h: EtcdHandle) {
    super(h);
    this.tx = new Txns(h);
  }

  private planOps(p: FiringPlan): { compares: Compare[]; ops: Op[] } {
    const { ns } = this.h;
    const compares: Compare[] = [[K.cursor(p.taskId), 'Mod', p.cursor.expectRev]];
    const ops: Op[] = [ns.put(K.cursor(p.taskId)).value(String(p.cursor.toMs))];
    for (const f of p.firings) {
      compares.push([K.firing(f.taskId, f.scheduledMs, f.replica), 'Create', 0]);
      ops.push(ns.put(K.firing(f.taskId, f.scheduledMs, f.replica)).value(JSON.stringify(f)));
      if (f.state === 'assigned' && f.node) ops.push(ns.put(K.assignment(f.node, f.taskId, f.scheduledMs, f.replica)).value(JSON.stringify(f)));
    }
    for (const r of p.skipped) ops.push(ns.put(K.run(r.taskId, r.scheduledMs, r.attempt, r.replica)).value(JSON.stringify(r)));
    for (const k of p.kills) ops.push(ns.put(K.killRequest(k.node, k.runId)).value('replace'));
    return { compares, ops };
  }

  /**
   * Writes plans in as few fenced transactions as the op limit allows, concurrently. In a batch
   * whose compares fail the stale plans are left out and the others go again (batchCommit), so
   * one stale cursor does not hold back the others.
   * Returns `null` when the fence failed (this node no longer leads).
   */
  async writePlans(fence: Fence, plans: FiringPlan[]): Promise<PlanResult[] | null> {
    type Item = { plan: FiringPlan; compares: Compare[]; ops: Op[] };
    // Pack plans into batches within etcd's op limits (the fence is one more compare); the
    // batches touch disjoint keys, so they are committed concurrently rather than one round
    // trip after another.
    const max = this.h.maxTxnOps;
    const batches = packWithin(plans.map((plan): Item => ({ plan, ...this.planOps(plan) })), (b) => [b.compares.length, b.ops.length], [max - 1, max]);
    const flush = async (cur: Item[]): Promise<PlanResult[] | null> => {
      const r = await this.tx.batchCommit(fence, cur, null as PlanResult | null, (b) => b, (b, at) => ({ plan: b.plan, ok: true, revision: at.revision }));
      return r === 'fenced' ? null : r.map((x, i) => x ?? { plan: cur[i]!.plan, ok: false, revision: 0 });
    };
    const all = await Promise.all(batches.map(flush));
    if (all.some((x) => x === null)) return null;
    return all.flatMap((x) => x!);
  }

  /** The ops of one leader transition (see transition()). */
  private transitionOps(prev: Firing, next: Firing | null, runs: Run[]): Op[] {
    const { ns } = this.h;
    const f = prev;
    const key = K.firing(f.taskId, f.scheduledMs, f.replica);
    const ops: Op[] = [];
    const reassignedHere = next?.state === 'assigned' && next.node === f.node;
    if (f.node && !reassignedHere) ops.push(ns.delete().key(K.assignment(f.node, f.taskId, f.scheduledMs, f.replica)));
    if (next) {
      ops.push(ns.put(key).value(JSON.stringify(next)));
      if (next.state === 'assigned' && next.node) ops.push(ns.put(K.assignment(next.node, next.taskId, next.scheduledMs, next.replica)).value(JSON.stringify(next)));
    } else {
      ops.push(ns.delete().key(key));
    }
    for (const r of runs) ops.push(ns.put(K.run(r.taskId, r.scheduledMs, r.attempt, r.replica)).value(JSON.stringify(r)));
    return ops;
  }

  /**
   * Leader: moves an existing firing to a new state (assign, reassign, mark lost) if it has
   * not changed since `expectRev`. `next` null deletes it. `runs` are written alongside.
   */
  async transition(fence: Fence, prev: { firing: Firing; modRevision: number }, next: Firing | null, runs: Run[] = []): Promise<Guarded> {
    return (await this.transitionMany(fence, [{ prev, next, runs }]))[0]!;
  }

  /**
   * Many transitions (a node lost with hundreds of firings): packed into transactions of up to
   * 30, committed concurrently; in a pack whose compares fail, the stale ones are left out and
   * the others go again together.
   */
  async transitionMany(fence: Fence, items: { prev: { firing: Firing; modRevision: number }; next: Firing | null; runs: Run[] }[]): Promise<Guarded[]> {
    const packs: (typeof items)[] = [];
    for (let i = 0; i < items.length; i += 30) packs.push(items.slice(i, i + 30));
    const commitPack = async (pack: typeof items): Promise<Guarded[]> => {
      const r = await this.tx.batchCommit(
        fence,
        pack,
        'stale' as 'ok' | 'stale',
        (t) => ({ compares: [[K.firing(t.prev.firing.taskId, t.prev.firing.scheduledMs, t.prev.firing.replica), 'Mod', t.prev.modRevision]], ops: this.transitionOps(t.prev.firing, t.next, t.runs) }),
        () => 'ok' as const,
      );
      return r === 'fenced' ? pack.map(() => 'fenced') : r;
    };
    return (await Promise.all(packs.map(commitPack))).flat();
  }

  /** Leader: creates firings that must not exist yet (daemon replicas), fenced. */
  async createFirings(fence: Fence, firings: Firing[]): Promise<Guarded> {
    const { ns } = this.h;
    for (let i = 0; i < firings.length; i += 40) {
      const chunk = firings.slice(i, i + 40);
      const compares: Compare[] = chunk.map((f) => [K.firing(f.taskId, f.scheduledMs, f.replica), 'Create', 0]);
      const ops: Op[] = [];
      for (const f of chunk) {
        ops.push(ns.put(K.firing(f.taskId, f.scheduledMs, f.replica)).value(JSON.stringify(f)));
        if (f.state === 'assigned' && f.node) ops.push(ns.put(K.assignment(f.node, f.taskId, f.scheduledMs, f.replica)).value(JSON.stringify(f)));
      }
      const r = await this.tx.commit(fence, compares, ops);
      if (r !== 'ok') return r;
    }
    return 'ok';
  }

  /** Leader: turns a manual trigger request into a firing (or a skipped run), fenced. */
  async consumeTrigger(fence: Fence, triggerKey: string, triggerRev: number, firings: Firing[], skipped: Run | null, kills: { node: string; runId: string }[]): Promise<Guarded> {
    const { ns } = this.h;
    const compares: Compare[] = [[triggerKey, 'Mod', triggerRev]];
    const ops: Op[] = [ns.delete().key(triggerKey)];
    for (const firing of firings) {
      compares.push([K.firing(firing.taskId, firing.scheduledMs, firing.replica), 'Create', 0]);
      ops.push(ns.put(K.firing(firing.taskId, firing.scheduledMs, firing.replica)).value(JSON.stringify(firing)));
      if (firing.state === 'assigned' && firing.node) ops.push(ns.put(K.assignment(firing.node, firing.taskId, firing.scheduledMs, firing.replica)).value(JSON.stringify(firing)));
    }
    if (skipped) ops.push(ns.put(K.run(skipped.taskId, skipped.scheduledMs, skipped.attempt, skipped.replica)).value(JSON.stringify(skipped)));
    for (const k of kills) ops.push(ns.put(K.killRequest(k.node, k.runId)).value('replace'));
    return this.tx.commit(fence, compares, ops);
  }
}
