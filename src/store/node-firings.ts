import { MAX_TXN_BYTES, type EtcdHandle } from './etcd.js';
import { K } from './keys.js';
import type { Firing } from '../domain/firing.js';
import { lateOutcome } from '../domain/firing-transitions.js';
import type { Run, Task } from '../domain/task.js';
import { Batcher } from '../lib/batcher.js';
import { FiringReads } from './firing-reads.js';
import { Txns, packWithin, readOp, type Guarded, type Op } from './txn.js';

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

/**
 * A node's writes of the firings it holds (protocol 1's claims of assignments, outcomes,
 * changes while it runs), each guarded by the firing's revision and, for claims, the node's
 * lease. Claims and outcomes due at the same moment share transactions (Batcher). Protocol 2's
 * claims are in plan-store.ts.
 */
export class NodeFirings extends FiringReads {
  private readonly tx: Txns;

  constructor(h: EtcdHandle) {
    super(h);
    this.tx = new Txns(h);
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
   * retries, else the firing is deleted. 'stale' if the leader has since taken it back.
   * Outcomes ready at the same moment share a transaction (batchCommit: a stale one fails alone).
   */
  async complete(nodeId: string, claimRev: number, firing: Firing, run: Run, next: Firing | null): Promise<Guarded> {
    return this.outcomes.submit({ nodeId, claimRev, firing, run, next });
  }

  private readonly outcomes = new Batcher<OutcomeItem, Guarded>((items) => this.completeMany(items), () => Math.floor(this.h.maxTxnOps / 3));

  private async completeMany(items: OutcomeItem[]): Promise<Guarded[]> {
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
          'stale' as Guarded,
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
          () => 'ok' as const,
        );
        return r === 'fenced' ? pack.map(() => 'stale' as const) : r;
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

  /**
   * Node: an outcome whose firing was taken back meanwhile (the leader found the lease gone and
   * wrote the attempt `lost`) still records what really happened: the run record is written if
   * it is absent or says `lost` (then saying it came late), never over another outcome. 'ok' when written, 'same' when this
   * very outcome is there (a commit whose reply was lost), 'stale' when another one is.
   */
  async recordLate(run: Run): Promise<Guarded | 'same'> {
    const { ns } = this.h;
    const key = K.run(run.taskId, run.scheduledMs, run.attempt, run.replica);
    const got = (await ns.get(key).exec()).kvs[0];
    const there = got ? (JSON.parse(got.value.toString()) as Run) : null;
    if (there && there.state === run.state && there.endedMs === run.endedMs && there.node === run.node) return 'same';
    if (there && there.state !== 'lost') return 'stale';
    const record = there ? lateOutcome(run, there) : run;
    const r = await ns.if(key, 'Mod', '==', got ? Number(got.mod_revision) : 0).then(ns.put(key).value(JSON.stringify(record))).commit();
    return r.succeeded ? 'ok' : 'stale';
  }

  /** Removes one of this node's inbox keys (a kill request it has acted on). */
  async dropInbox(nodeId: string, rel: string): Promise<void> {
    await this.h.ns.delete().key(K.inbox(nodeId) + rel).exec();
  }
}
