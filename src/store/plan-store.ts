import { MAX_TXN_BYTES, type EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import type { Fence } from './election.js';
import type { Firing } from '../domain/firing.js';
import type { PlannedFiring } from '../domain/candidates.js';
import type { Run, Task } from '../domain/task.js';
import { Batcher } from '../lib/batcher.js';
import { listPrefix } from './watch.js';
import { Txns, fenceCompare, keyOnlyOp, packWithin, readOp, type Compare, type Guarded, type Op } from './txn.js';

/** What the leader writes for one task in one step under protocol v2. */
export interface CandidatePlan {
  taskId: string;
  /** The cursor as the planner read it (mod revision 0 = absent) and where it moves to. */
  cursor: { expectRev: number; toMs: number };
  planned: PlannedFiring[];
  /** Run records for firings decided not to run (misfire). */
  skipped: Run[];
}

export interface CandidatePlanResult {
  plan: CandidatePlan;
  ok: boolean;
  revision: number;
}

interface ClaimItem {
  nodeId: string;
  leaseNumeric: string;
  planned: PlannedFiring;
  running: Firing;
  /** false: the caller holds the definition of the planned revision (the compare proves it current). */
  readTask: boolean;
}

/** A chunk as stored: a node table, then one row per firing (short, since every node reads every chunk). */
interface Chunk {
  n: string[];
  /** [taskId, tenant, ms, replica, taskRev, catch-up 0/1, lateUntil - ms, candidate indexes, requests?] */
  f: [string, string, number, number, number, 0 | 1, number, number[], PlannedFiring['requests']?][];
}

/** Planned firings packed into one value. */
export function encodeChunk(planned: PlannedFiring[]): string {
  const nodes: string[] = [];
  const at = (id: string) => {
    const i = nodes.indexOf(id);
    return i >= 0 ? i : nodes.push(id) - 1;
  };
  const f: Chunk['f'] = planned.map((p) => {
    const row: Chunk['f'][number] = [p.taskId, p.tenant, p.scheduledMs, p.replica, p.taskRev, p.trigger === 'catch-up' ? 1 : 0, p.lateUntilMs - p.scheduledMs, p.candidates.map(at)];
    if (p.requests) row.push(p.requests);
    return row;
  });
  return JSON.stringify({ n: nodes, f } satisfies Chunk);
}

export function decodeChunk(value: string): PlannedFiring[] {
  const c = JSON.parse(value) as Chunk;
  return c.f.map(([taskId, tenant, ms, replica, taskRev, catchUp, late, cands, requests]) => ({
    taskId,
    tenant,
    scheduledMs: ms,
    replica,
    trigger: catchUp ? 'catch-up' : 'schedule',
    taskRev,
    candidates: cands.map((i) => c.n[i]!),
    lateUntilMs: ms + late,
    ...(requests ? { requests } : {}),
  }));
}

/**
 * The leader's mark on the plans (K.plansSettled): every planned firing of an instant before
 * `ms`, in a chunk stored at or before `revision` (the mark's own), was claimed or looked after
 * by the backstop. A new leader reads only what is past it.
 */
export interface Settled {
  ms: number;
  revision: number;
}

/** Rough bytes of one planned firing in a chunk (to pack chunks under etcd's request size). */
const ROW_BYTES = 96;

/**
 * Protocol v2's keys: the leader's plans (chunks of planned firings, each with its candidates,
 * written with the cursors they move), the candidates' claims at the instant, and the leader's
 * backstop for a planned firing nobody claimed.
 */
export class PlanStore {
  private readonly tx: Txns;
  private seq = 0;

  constructor(private readonly h: EtcdHandle) {
    this.tx = new Txns(h);
  }

  /**
   * Leader: plans in as few fenced transactions as etcd's limits allow, concurrently; each
   * transaction moves its tasks' cursors (compared with the revisions the planner read) and puts
   * one chunk holding all their planned firings. A stale cursor fails alone (batchCommit).
   * Returns `null` when the fence failed.
   */
  async writePlans(fence: Fence, plans: CandidatePlan[]): Promise<CandidatePlanResult[] | null> {
    const { ns } = this.h;
    const max = this.h.maxTxnOps;
    const parts = (p: CandidatePlan): { compares: Compare[]; ops: Op[] } => ({
      compares: [[K.cursor(p.taskId), 'Mod', p.cursor.expectRev]],
      ops: [ns.put(K.cursor(p.taskId)).value(String(p.cursor.toMs)), ...p.skipped.map((r) => ns.put(K.run(r.taskId, r.scheduledMs, r.attempt, r.replica)).value(JSON.stringify(r)))],
    });
    // One op of each batch is its chunk; the fence is one more compare.
    const batches = packWithin(plans, (p) => [1, 1 + p.skipped.length, p.planned.length * ROW_BYTES + p.skipped.length * 512], [max - 1, max - 1, MAX_TXN_BYTES / 2]);
    const chunk = (batch: CandidatePlan[]): Op[] => {
      const planned = batch.flatMap((p) => p.planned);
      if (planned.length === 0) return [];
      const newest = Math.max(...planned.map((p) => p.scheduledMs));
      return [ns.put(K.planChunk(newest, `${fence.createRevision}-${++this.seq}`)).value(encodeChunk(planned))];
    };
    const all = await Promise.all(
      batches.map(async (batch) => {
        const r = await this.tx.batchCommit(fence, batch, null as CandidatePlanResult | null, parts, (p, at) => ({ plan: p, ok: true, revision: at.revision }), chunk);
        return r === 'fenced' ? null : r.map((x, i) => x ?? { plan: batch[i]!, ok: false, revision: 0 });
      }),
    );
    if (all.some((x) => x === null)) return null;
    return all.flatMap((x) => x!);
  }

  /**
   * Every planned firing still stored (a new leader's first look), but those `settled` (the last
   * leader's mark) says were claimed or looked after: a chunk written before the mark whose
   * instants all precede it is not even decoded. A chunk written after the mark is read whole,
   * whatever its instants (catch-up firings of past instants, a leader of another version).
   */
  async list(settled: Settled | null = null): Promise<{ planned: PlannedFiring[]; revision: number }> {
    const { kvs, revision } = await listPrefix(this.h, K.plans);
    const planned: PlannedFiring[] = [];
    for (const kv of kvs) {
      const before = settled !== null && kv.modRevision <= settled.revision;
      if (before && K.chunkNewestMs(kv.key) < settled.ms) continue;
      for (const p of decodeChunk(kv.value)) if (!before || p.scheduledMs >= settled.ms) planned.push(p);
    }
    return { planned, revision };
  }

  /** The leader's mark on the plans, with its revision (null: none written, or unreadable: everything is looked at). */
  async settled(): Promise<Settled | null> {
    const r = await this.h.ns.get(K.plansSettled).exec();
    const kv = r.kvs[0];
    const ms = kv ? Number(kv.value.toString()) : NaN;
    return kv && Number.isFinite(ms) ? { ms, revision: Number(kv.mod_revision) } : null;
  }

  /** Leader: moves its mark on the plans (fenced). */
  async settle(fence: Fence, ms: number): Promise<Guarded> {
    return this.tx.commit(fence, [], [this.h.ns.put(K.plansSettled).value(String(ms))]);
  }

  /** The instants of one task still planned (stored, whether claimed since or not): the slots' "not run yet" from "lost". */
  async plannedOf(taskId: string): Promise<number[]> {
    return (await this.list()).planned.filter((p) => p.taskId === taskId).map((p) => p.scheduledMs);
  }

  /** Leader: drops the chunks whose newest firing is at or before `ms` (one range delete). */
  async deleteThrough(ms: number): Promise<number> {
    const r = await this.h.ns.delete().inRange({ start: K.plans, end: K.planChunk(ms, '~') }).exec();
    return Number(r.deleted);
  }

  /**
   * Candidate: claims a planned firing at its instant. One winner: the firing is created only if
   * absent and its first attempt has no run record yet (a quick run may have ended and gone
   * already), the task is still the definition it was planned from, and this node's membership
   * still carries its lease. The same transaction reads the task. null: not ours.
   */
  async claim(nodeId: string, leaseNumeric: string, planned: PlannedFiring, running: Firing, readTask = true): Promise<{ revision: number; task: Task | null } | null> {
    return this.claims.submit({ nodeId, leaseNumeric, planned, running, readTask });
  }

  /** One nested transaction per claim (Txns.each). */
  private readonly claims = new Batcher<ClaimItem, { revision: number; task: Task | null } | null>((items) => this.claimMany(items), () => this.h.maxTxnOps);

  private async claimMany(items: ClaimItem[]): Promise<({ revision: number; task: Task | null } | null)[]> {
    const { ns } = this.h;
    // Each claim on its own compares (Txns.each): one that lost its race fails alone, with no
    // second round for the others, which would feed the race with the next candidates.
    const byNode = new Map<string, ClaimItem[]>();
    for (const c of items) {
      const k = `${c.nodeId}\0${c.leaseNumeric}`;
      byNode.set(k, [...(byNode.get(k) ?? []), c]);
    }
    const out = new Map<ClaimItem, { revision: number; task: Task | null } | null>();
    await Promise.all(
      [...byNode.values()].map(async (group) => {
        const first = group[0]!;
        const r = await this.tx.each(
          [[K.node(first.nodeId), 'Lease', first.leaseNumeric]],
          group,
          null,
          (c) => {
            const p = c.planned;
            const key = K.firing(p.taskId, p.scheduledMs, p.replica);
            return {
              compares: [
                [key, 'Create', 0],
                [K.run(p.taskId, p.scheduledMs, 1, p.replica), 'Create', 0],
                [K.task(p.taskId), 'Mod', p.taskRev],
              ],
              ops: [ns.put(key).value(JSON.stringify(c.running)), ...(c.readTask ? [readOp(this.h, K.task(p.taskId))] : [])],
            };
          },
          (_, done) => {
            const kv = done.responses[1]?.response_range?.kvs[0];
            return { revision: done.revision, task: kv ? (JSON.parse(kv.value.toString()) as Task) : null };
          },
        );
        group.forEach((c, i) => out.set(c, r === 'guarded' ? null : r[i]!));
      }),
    );
    return items.map((c) => out.get(c) ?? null);
  }

  /**
   * Candidate after the first: whether the planned firing is still unclaimed (neither it nor its
   * first run exists). A read-only transaction, batched with the others of the same moment: a
   * claim that fails its compares is still a raft proposal, and most later turns find the
   * firing claimed.
   */
  async open(p: PlannedFiring): Promise<boolean> {
    return this.opens.submit(p);
  }

  private readonly opens = new Batcher<PlannedFiring, boolean>((items) => this.openMany(items), () => Math.floor(this.h.maxTxnOps / 2));

  private async openMany(items: PlannedFiring[]): Promise<boolean[]> {
    const { ns } = this.h;
    const ops = items.flatMap((p) => [keyOnlyOp(this.h, K.firing(p.taskId, p.scheduledMs, p.replica)), keyOnlyOp(this.h, K.run(p.taskId, p.scheduledMs, 1, p.replica))]);
    const r = await ns.if(K.plans, 'Version', '>', -1).then(...ops).commit();
    return items.map((_, i) => !r.responses[2 * i]?.response_range?.kvs.length && !r.responses[2 * i + 1]?.response_range?.kvs.length);
  }

  /**
   * Leader: planned firings no candidate claimed, written as firings for the leader to place
   * (or to record as missed), each only if neither it nor its first attempt's run record exists
   * and its task is still the definition it was planned from.
   */
  async backstop(fence: Fence, items: { firing: Firing; taskRev: number }[]): Promise<Guarded[]> {
    const { ns } = this.h;
    const max = this.h.maxTxnOps;
    // Each on its own compares (Txns.each): the candidates may claim any of them meanwhile.
    const packs = await Promise.all(
      packWithin(items, () => [1], [max]).map(async (pack) => {
        const r = await this.tx.each(
          [fenceCompare(fence)],
          pack,
          'stale' as Guarded,
          ({ firing: f, taskRev }) => {
            const key = K.firing(f.taskId, f.scheduledMs, f.replica);
            return {
              compares: [[key, 'Create', 0], [K.run(f.taskId, f.scheduledMs, 1, f.replica), 'Create', 0], [K.task(f.taskId), 'Mod', taskRev]],
              ops: [ns.put(key).value(JSON.stringify(f))],
            };
          },
          () => 'ok' as Guarded,
        );
        return r === 'guarded' ? pack.map((): Guarded => 'fenced') : r;
      }),
    );
    return packs.flat();
  }
}
