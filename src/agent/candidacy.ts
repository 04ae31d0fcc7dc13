import type { EtcdHandle } from '../store/etcd.js';
import { watchPrefix, type Kv, type PrefixWatch } from '../store/watch.js';
import { decodeChunk, type PlanStore } from '../store/plan-store.js';
import type { NodeFirings } from '../store/node-firings.js';
import { K } from '../store/keys.js';
import type { NodeSession } from '../store/session.js';
import { MAX_CANDIDATES, claimAtMs, claimDecision, claimedFiring, type PlannedFiring } from '../domain/candidates.js';
import { handBack, sameFiring } from '../domain/firing-transitions.js';
import { sureWrite, type ReadBack } from './sure.js';
import type { Firing } from '../domain/firing.js';
import type { Clock } from '../domain/clock.js';
import { TimerHeap } from '../lib/timer-heap.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Claimed } from './run-slot.js';
import type { Run, Task } from '../domain/task.js';
import { firingRunId } from '../domain/firing.js';

/** The first run record of a planned firing whose claim went unanswered until past its misfire window. */
function notClaimed(p: PlannedFiring, node: string, nowMs: number): Run {
  return {
    id: firingRunId({ taskId: p.taskId, scheduledMs: p.scheduledMs, attempt: 1, ...(p.replica ? { replica: p.replica } : {}) }),
    taskId: p.taskId,
    tenant: p.tenant,
    scheduledMs: p.scheduledMs,
    attempt: 1,
    ...(p.replica ? { replica: p.replica } : {}),
    trigger: p.trigger,
    state: 'skipped',
    endedMs: nowMs,
    message: `not started: ${node}'s claim went unanswered by etcd until past the misfire window`,
  };
}

/** Task definitions a node keeps to claim without reading them again. */
const TASK_CACHE = 20_000;

export interface CandidacyDeps {
  h: EtcdHandle;
  plans: PlanStore;
  firings: NodeFirings;
  session: NodeSession;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** How long each candidate waits for the one before it. */
  stepMs: number;
  /** How long before the instant the first candidate claims (0: at it). */
  leadMs: number;
  capacity: number;
  /** The agent's state at the moment of a claim. */
  draining(): boolean;
  /** This node's clock is off from the others' (agent/clock-check.ts). */
  skewed(): boolean;
  inflight(): number;
  /** Runs a planned firing this node is to claim now (the agent's slot: claim, run, outcome). */
  take(running: Firing, claim: () => Promise<Claimed>): void;
}

/**
 * The node's side of protocol v2 (domain/candidates.ts): it watches the leader's plans, keeps
 * the planned firings it is a candidate for in a timer heap, and at its turn (the instant for
 * the first candidate, a claim step later for each next one) claims the firing if nobody has,
 * unless it cannot take work now (lease deadline passed, draining, full). It needs no leader at
 * the instant: a plan written before the leader died is claimed all the same.
 */
export class Candidacy {
  private watch: PrefixWatch | null = null;
  private readonly heap = new TimerHeap();
  private readonly waiting = new Map<string, PlannedFiring>();
  private cancelTimer: (() => void) | null = null;
  /** Task definitions as the last claims read them, by the revision they were read at. */
  private readonly tasks = new Map<string, { rev: number; task: Task }>();
  private timerAt = 0;
  private closed = false;

  constructor(private readonly d: CandidacyDeps) {}

  get nodeId(): string {
    return this.d.session.node.id;
  }

  async start(): Promise<void> {
    this.watch = await watchPrefix(
      this.d.h,
      K.plans,
      {
        // A listing (start, or a watch that had to list again) holds turns that passed while this
        // node was not looking: those are the next candidates' and the leader's now, and thousands
        // of late claims at once (a node restarted under load) would only be refused. A chunk
        // written now is claimed whatever its instants: the leader meant it for now.
        reset: (kvs: Kv[]) => {
          this.heap.clear();
          this.waiting.clear();
          const now = this.d.clock.now();
          // A chunk whose newest instant is past even its last candidate's turn (a firing has at
          // most MAX_CANDIDATES: domain/candidates.ts rankCandidates) is not decoded:
          // a node restarted under load finds a minute of plans (60,000 firings at 1,000/s).
          const passed = now - (MAX_CANDIDATES - 1) * this.d.stepMs;
          for (const kv of kvs) if (!(K.chunkNewestMs(kv.key) < passed)) this.addChunk(kv.value, now);
          this.arm();
        },
        event: (ev) => {
          if (ev.type === 'put') this.addChunk(ev.value, -Infinity);
          this.arm();
        },
      },
      this.d.log,
      { ignoreDeletes: true }, // the leader deletes chunks long after their instants
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    await this.watch?.close();
  }

  /** The planned firings of one chunk this node is a candidate for, but not those whose turn is before `turnsFromMs`. */
  private addChunk(value: string, turnsFromMs: number): void {
    let planned: PlannedFiring[];
    try {
      planned = decodeChunk(value);
    } catch (err) {
      this.d.log.warn({ err: (err as Error).message }, 'unreadable plan chunk');
      return;
    }
    const now = this.d.clock.now();
    for (const p of planned) {
      const at = claimAtMs(p, this.nodeId, this.d.stepMs, this.d.leadMs);
      if (at === null || at < turnsFromMs || p.lateUntilMs < now) continue;
      const key = `${K.firingId(p.taskId, p.scheduledMs, p.replica)}@${p.taskRev}`;
      this.waiting.set(key, p);
      this.heap.set(key, at);
    }
  }

  private arm(): void {
    if (this.closed) return;
    const next = this.heap.peek();
    if (next === null) return;
    if (this.cancelTimer && this.timerAt === next) return;
    this.cancelTimer?.();
    this.timerAt = next;
    this.cancelTimer = this.d.clock.timeout(Math.max(0, next - this.d.clock.now()), () => {
      this.cancelTimer = null;
      this.turn();
    });
  }

  /** Every planned firing whose turn has come for this node. */
  private turn(): void {
    const now = this.d.clock.now();
    // What ran here before this turn: the firings of one instant (a burst of hundreds on the
    // second boundary) do not count against each other, or all but the first `capacity` of them
    // would wait for the last candidate.
    const me = { nodeId: this.nodeId, alive: this.d.session.alive(), draining: this.d.draining(), skewed: this.d.skewed(), inflight: this.d.inflight(), capacity: this.d.capacity };
    for (const key of this.heap.takeDue(now)) {
      const p = this.waiting.get(key);
      this.waiting.delete(key);
      if (!p) continue;
      const decision = claimDecision(p, me, now);
      if (decision === 'claim') void this.claim(p);
    }
    this.arm();
  }

  private async claim(p: PlannedFiring): Promise<void> {
    const rank = p.candidates.indexOf(this.nodeId);
    const overdue = this.d.clock.now() - (claimAtMs(p, this.nodeId, this.d.stepMs, this.d.leadMs) ?? 0) > this.d.stepMs;
    try {
      // A later turn, or one this node comes to late (it was frozen, its event loop busy),
      // first looks (read only): most find the firing claimed already, and a claim whose
      // compares fail still costs etcd a raft proposal.
      if ((rank > 0 || overdue) && !(await this.d.plans.open(p))) return;
    } catch (err) {
      this.d.metrics.etcdError('agent');
      this.d.log.warn({ err: (err as Error).message, taskId: p.taskId, scheduledMs: p.scheduledMs }, 'reading a planned firing failed; claiming it');
    }
    const running = claimedFiring(p, this.nodeId, this.d.session.node.lease, this.d.clock.now());
    this.d.take(running, async () => {
      const won = await this.claimSure(p, running);
      if (won) this.d.metrics.candidateClaim(rank);
      return won;
    });
  }

  private remember(taskId: string, rev: number, task: Task): void {
    if (this.tasks.size >= TASK_CACHE) this.tasks.clear(); // bounded; refilled by the next claims
    this.tasks.set(taskId, { rev, task });
  }

  /**
   * The claim, sure of its outcome (agent/sure.ts): after an etcd error the firing is read back;
   * written as this claim wrote it -> ours (the task read again); absent -> claimed again while
   * the firing may still start; anything else -> not ours. A claim found applied once the firing
   * may no longer start (past its misfire window) is handed back: left `running` on this live
   * lease, nothing would run it nor repair it.
   */
  private async claimSure(p: PlannedFiring, running: Firing): Promise<Claimed> {
    const { plans, firings, session, clock, log, metrics } = this.d;
    return sureWrite(
      {
        clock,
        alive: () => session.alive(),
        onError: (err) => {
          metrics.etcdError('agent');
          log.warn({ err: err.message, taskId: p.taskId, scheduledMs: p.scheduledMs }, 'claim failed; reading the firing back');
        },
      },
      async () => {
        // The claim compares the task's revision: a definition of that revision read before is
        // the current one, and the claim need not read it again.
        const known = this.tasks.get(p.taskId);
        const fresh = known?.rev === p.taskRev ? known.task : null;
        const won = await plans.claim(this.nodeId, session.leaseNumeric, p, running, !fresh);
        if (won && !fresh && won.task) this.remember(p.taskId, p.taskRev, won.task);
        return won && fresh ? { ...won, task: fresh } : won;
      },
      async (): Promise<ReadBack<NonNullable<Claimed>>> => {
        const late = clock.now() > p.lateUntilMs;
        const now = await firings.getFiring(p.taskId, p.scheduledMs, p.replica);
        // Absent: not applied (or applied, run and ended: the claim's compares tell). Too late to
        // claim again: a skipped first-run record closes the instant, so the claim still in
        // flight, should etcd commit it now, fails its compares instead of leaving the firing
        // running with nothing running it.
        if (now === null) {
          if (!late) return { kind: 'unapplied' };
          await firings.recordLate(notClaimed(p, this.nodeId, clock.now()));
          return { kind: 'other' };
        }
        if (!sameFiring(now.firing, running)) return { kind: 'other' };
        if (late) {
          const back = await firings.update(this.nodeId, now.modRevision, handBack(now.firing, p.scheduledMs, false), [], true);
          log.warn({ taskId: p.taskId, scheduledMs: p.scheduledMs, handedBack: back > 0 }, 'a claim applied after its firing\'s misfire window: handed back to the leader');
          return { kind: 'other' };
        }
        return { kind: 'ours', value: { revision: now.modRevision, task: await firings.readTask(p.taskId) } };
      },
    );
  }
}
