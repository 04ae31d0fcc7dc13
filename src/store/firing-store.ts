import { MAX_TXN_BYTES, type EtcdHandle } from './etcd.js';
import { K, type Versioned } from './keys.js';
import type { Fence } from './election.js';
import type { Firing } from '../domain/firing.js';
import type { Run, Task } from '../domain/task.js';
import { Batcher } from '../lib/batcher.js';
import { listPrefix } from './watch.js';
import { Txns, packWithin, readOp, type Compare, type Guarded, type Op } from './txn.js';

interface ClaimItem {
  nodeId: string;
  leaseNumeric: string;
  assignmentRev: number;
  running: Firing;
}

interface OutcomeItem {
  nodeId: string;
  claimRev: number;
  firing: Firing;
  run: Run;
  next: Firing | null;
}

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
 * The leader's writes and the node's claims. Every leader write compares the fence (its
 * election key's create revision); every firing is created only if absent, in the same
 * transaction that moves the task's cursor forward from the revision the planner read.
 */
export class FiringStore {
  private readonly tx: Txns;

  constructor(private readonly h: EtcdHandle) {
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

  /**
   * Leader: the schedule cursors of the given tasks (value and mod revision; absent ones are
   * left out), read in transactions of up to etcd's op limit; all of them by listing when there are many.
   */
  async readCursors(ids: string[]): Promise<Map<string, Versioned<number>>> {
    const out = new Map<string, Versioned<number>>();
    if (ids.length > 1000) {
      const { kvs } = await listPrefix(this.h, K.cursors);
      for (const kv of kvs) out.set(kv.key.slice(K.cursors.length), { value: Number(kv.value), modRevision: kv.modRevision });
      return out;
    }
    const { ns } = this.h;
    const chunks = packWithin(ids, () => [1], [this.h.maxTxnOps]);
    await Promise.all(
      chunks.map(async (chunk) => {
        const r = await ns.if(K.cursors, 'Version', '>', -1).then(...chunk.map((id) => readOp(this.h, K.cursor(id)))).commit();
        chunk.forEach((id, i) => {
          const kv = r.responses[i]?.response_range?.kvs[0];
          if (kv) out.set(id, { value: Number(kv.value.toString()), modRevision: Number(kv.mod_revision) });
        });
      }),
    );
    return out;
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

  /**
   * Node: assigned -> running. Succeeds only while the firing is exactly as assigned (its mod
   * revision equals the assignment's) and this node's membership key still carries its lease.
   * The same transaction reads the task. Returns null if the firing is no longer ours. No run
   * record is written: while it runs the firing is the record (RunStore reads it as one), and
   * the outcome writes the only one (a key fewer through raft per firing).
   */
  async claim(nodeId: string, leaseNumeric: string, assignmentRev: number, running: Firing): Promise<{ revision: number; task: Task | null } | null> {
    return this.claims.submit({ nodeId, leaseNumeric, assignmentRev, running });
  }

  private readonly claims = new Batcher<ClaimItem, { revision: number; task: Task | null } | null>((items) => this.claimMany(items), () => Math.floor(this.h.maxTxnOps / 2));

  /**
   * Claims due at the same moment go in one transaction (compare each firing's revision and the
   * node's lease once per incarnation); if any compare fails, the others go again together.
   */
  private async claimMany(items: ClaimItem[]): Promise<({ revision: number; task: Task | null } | null)[]> {
    const { ns } = this.h;
    const r = await this.tx.batchCommit(
      null,
      items,
      null,
      (c) => {
        const key = K.firing(c.running.taskId, c.running.scheduledMs, c.running.replica);
        return {
          compares: [[K.node(c.nodeId), 'Lease', c.leaseNumeric], [key, 'Mod', c.assignmentRev]],
          ops: [ns.put(key).value(JSON.stringify(c.running)), readOp(this.h, K.task(c.running.taskId))],
        };
      },
      (_, done) => {
        const kv = done.responses[done.opsAt + 1]?.response_range?.kvs[0];
        return { revision: done.revision, task: kv ? (JSON.parse(kv.value.toString()) as Task) : null };
      },
    );
    return r === 'fenced' ? items.map(() => null) : r;
  }

  /**
   * Node: commits an attempt's outcome once. `next` is the retry-wait firing when the policy
   * retries, else the firing is deleted. Fails (false) if the leader has since taken it back.
   * Outcomes ready at the same moment share a transaction (batchCommit: a stale one fails alone).
   */
  async complete(nodeId: string, claimRev: number, firing: Firing, run: Run, next: Firing | null): Promise<boolean> {
    return this.outcomes.submit({ nodeId, claimRev, firing, run, next });
  }

  private readonly outcomes = new Batcher<OutcomeItem, boolean>((items) => this.completeMany(items), () => Math.floor(this.h.maxTxnOps / 3));

  private async completeMany(items: OutcomeItem[]): Promise<boolean[]> {
    const { ns } = this.h;
    // A run record carries its output's tail (up to runs.tailBytes): packs stay under etcd's
    // request size limit, however many operations a transaction may hold.
    const sized = items.map((o) => ({ o, run: JSON.stringify(o.run), next: o.next ? JSON.stringify(o.next) : null }));
    const packs = packWithin(sized, (s) => [s.run.length + (s.next?.length ?? 0) + 256], [MAX_TXN_BYTES]);
    const done = await Promise.all(
      packs.map(async (pack) => {
        const r = await this.tx.batchCommit(
          null,
          pack,
          false,
          ({ o, run, next }) => {
            const key = K.firing(o.firing.taskId, o.firing.scheduledMs, o.firing.replica);
            return {
              compares: [[key, 'Mod', o.claimRev]],
              ops: [
                ns.put(K.run(o.run.taskId, o.run.scheduledMs, o.run.attempt, o.run.replica)).value(run),
                // A candidate's claim (protocol v2) had no assignment to delete.
                ...(o.firing.via === 'candidate' ? [] : [ns.delete().key(K.assignment(o.nodeId, o.firing.taskId, o.firing.scheduledMs, o.firing.replica))]),
                next ? ns.put(key).value(next) : ns.delete().key(key),
              ],
            };
          },
          () => true,
        );
        return r === 'fenced' ? pack.map(() => false) : r;
      }),
    );
    return done.flat();
  }

  /**
   * Node: changes a firing it holds (its pid, a daemon restart, handing it back on drain) if
   * it is unchanged since `expectRev`, writing `runs` alongside. `release` also deletes the
   * node's assignment (the firing goes back to the leader). Returns the new revision, or 0.
   */
  async update(nodeId: string, expectRev: number, firing: Firing, runs: Run[], release = false): Promise<number> {
    const { ns } = this.h;
    const key = K.firing(firing.taskId, firing.scheduledMs, firing.replica);
    const ops: Op[] = [ns.put(key).value(JSON.stringify(firing))];
    for (const r of runs) ops.push(ns.put(K.run(r.taskId, r.scheduledMs, r.attempt, r.replica)).value(JSON.stringify(r)));
    if (release && firing.via !== 'candidate') ops.push(ns.delete().key(K.assignment(nodeId, firing.taskId, firing.scheduledMs, firing.replica)));
    const r = await ns.if(key, 'Mod', '==', expectRev).then(...ops).commit();
    return r.succeeded ? Number(r.header.revision) : 0;
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

  /** Any node: asks the node running a run to kill it (reason: operator, stop, replace). */
  async requestKill(node: string, runId: string, reason = 'operator'): Promise<void> {
    await this.h.ns.put(K.killRequest(node, runId)).value(reason).exec();
  }

  async deleteKey(key: string): Promise<void> {
    await this.h.ns.delete().key(key).exec();
  }

  /** Every firing of a task (one per replica and scheduled time still in flight). */
  async firingsOf(taskId: string): Promise<Firing[]> {
    const { kvs } = await listPrefix(this.h, K.taskFirings(taskId));
    return kvs.map((kv) => JSON.parse(kv.value) as Firing);
  }

  /** A task definition (the agent reads it back after a claim whose outcome it did not learn). */
  async readTask(taskId: string): Promise<Task | null> {
    const v = await this.h.ns.get(K.task(taskId)).string();
    return v ? (JSON.parse(v) as Task) : null;
  }

  async getFiring(taskId: string, scheduledMs: number, replica = 0): Promise<{ firing: Firing; modRevision: number } | null> {
    const r = await this.h.ns.get(K.firing(taskId, scheduledMs, replica)).exec();
    const kv = r.kvs[0];
    return kv ? { firing: JSON.parse(kv.value.toString()) as Firing, modRevision: Number(kv.mod_revision) } : null;
  }

  /** Any node: asks the leader to fire a task now (`replace`: stopping its live runs first). Idempotent per (task, ms). */
  async requestTrigger(taskId: string, ms: number, params?: Record<string, unknown>, replace = false): Promise<boolean> {
    const { ns } = this.h;
    const key = K.trigger(taskId, ms);
    const r = await ns.if(key, 'Create', '==', 0).then(ns.put(key).value(JSON.stringify({ params: params ?? null, ...(replace ? { replace: true } : {}) }))).commit();
    return r.succeeded;
  }

  async hasTrigger(taskId: string, ms: number): Promise<boolean> {
    const r = await this.h.ns.get(K.trigger(taskId, ms)).exec();
    return r.kvs.length > 0;
  }
}
