import type { FiringPlan } from '../store/leader-firings.js';
import type { CandidatePlan } from '../store/plan-store.js';
import { K } from '../store/keys.js';
import type { Run, Task } from '../domain/task.js';
import type { Firing } from '../domain/firing.js';
import { backstopAtMs, usesCandidates } from '../domain/candidates.js';
import { nextDueMs, planTask, withCandidates } from './planner.js';
import { RETRY_MS, type LeaderState } from './leader-state.js';

/** Due tasks planned per turn of the event loop. */
const PLAN_CHUNK = 250;

/**
 * Firings of tasks whose run depends on the state at their instant (overlap forbid/replace,
 * deps) are written only this long before they are due (see PlanContext.horizonMs).
 */
export const PLAN_AHEAD_MS = 30;

/** Default for the other tasks: written this far ahead, so the node has claimed them by their instant. */
export const WRITE_AHEAD_MS = 1500;

/**
 * The leader's schedule: when each task is next due (its cursor and schedule), and the plans
 * of the tasks that are due (planner.ts decides, this writes them, fenced, and records the
 * cursors they moved).
 */
export class TaskPlanning {
  constructor(
    private readonly s: LeaderState,
    private readonly writeAheadMs: number,
  ) {}

  /** Cursors of tasks that changed, read before they are planned again. */
  async refreshCursors(): Promise<void> {
    const { work, view } = this.s;
    if (work.cursors.size === 0) return;
    const ids = [...work.cursors];
    const read = await this.s.store.readCursors(ids);
    for (const id of ids) work.cursors.delete(id);
    for (const id of ids) {
      const c = read.get(id);
      const have = view.cursors.get(id);
      if (c && (!have || have.modRevision < c.modRevision)) view.cursors.set(id, c);
      work.tasks.add(id);
    }
  }

  /** Changed tasks get their next planning time (their next instant minus the write-ahead). */
  reschedule(): void {
    const { work, view } = this.s;
    if (work.tasks.size === 0) return;
    const v2 = !!this.s.candidates && this.s.candidateNodes(view.nodeInfos()).length > 0;
    for (const id of work.tasks) {
      const t = view.tasks.get(id)?.value;
      const due = t ? nextDueMs(t, view.cursors.get(id)?.value ?? t.createdMs) : null;
      work.planAt(id, due === null || !t ? null : due - this.aheadMs(t, v2));
    }
    work.tasks.clear();
  }

  /** How long before its instant a task's firing is written (`v2`: some node claims planned firings). */
  private aheadMs(task: Task, v2: boolean): number {
    if (v2 && this.s.candidates && usesCandidates(task)) return this.s.candidates.horizonMs;
    // onLost discard: a node dying between the claim and the instant would drop the firing.
    return task.policies.overlap === 'allow' && !task.deps?.length && task.policies.onLost === 'retry' ? this.writeAheadMs : PLAN_AHEAD_MS;
  }

  /**
   * Plans the due tasks and writes the plans, a chunk at a time: each chunk's write starts as
   * soon as it is planned, and the event loop gets a turn before the next chunk is planned (a
   * few thousand tasks due together would otherwise hold it for a second).
   */
  async fire(ids: string[]): Promise<void> {
    const { work, view } = this.s;
    const ctx = this.s.planContext();
    const v2 = { ...ctx, nodes: this.s.candidates ? this.s.candidateNodes(ctx.nodes) : [] };
    const writes: Promise<boolean>[] = [];
    for (let i = 0; i < ids.length; i += PLAN_CHUNK) {
      if (i > 0) await new Promise<void>((r) => setImmediate(r));
      if (!this.s.canWrite()) break;
      const plans: FiringPlan[] = [];
      const candidatePlans: CandidatePlan[] = [];
      for (const id of ids.slice(i, i + PLAN_CHUNK)) {
        const t = view.tasks.get(id);
        if (!t) continue;
        if (!view.cursors.has(id)) {
          // Every live task has one (written with it): not read yet, or the task is being deleted.
          work.cursors.add(id);
          work.planAt(id, ctx.nowMs + RETRY_MS);
          continue;
        }
        if (this.s.candidates && usesCandidates(t.value) && v2.nodes.length > 0) {
          // Protocol v2: planned a stride past the horizon, so each task's cursor moves once a stride.
          const plan = planTask(t.value, view.cursors.get(id), view.firingsOf(id), { ...v2, horizonMs: ctx.nowMs + this.s.candidates.horizonMs + this.s.candidates.strideMs });
          const withC = plan && withCandidates(plan, t.value, t.modRevision, v2);
          // A plan that needs the leader at the instant after all (no node takes a firing now, a
          // catch-up) is written as assignments, for the same instants.
          if (withC) candidatePlans.push(withC);
          else if (plan) plans.push(plan);
          else work.tasks.add(id);
          continue;
        }
        const plan = planTask(t.value, view.cursors.get(id), view.firingsOf(id), { ...ctx, horizonMs: ctx.nowMs + this.aheadMs(t.value, false) });
        if (plan) plans.push(plan);
        else work.tasks.add(id);
      }
      if (candidatePlans.length > 0)
        writes.push(
          this.writeCandidates(candidatePlans).catch((err: Error) => {
            this.s.log.warn({ err: err.message, tasks: candidatePlans.length }, 'writing plans failed; retrying');
            this.s.metrics.etcdError('leader');
            for (const p of candidatePlans) work.planAt(p.taskId, this.s.clock.now() + RETRY_MS);
            return true;
          }),
        );
      if (plans.length > 0)
        writes.push(
          this.write(plans).catch((err: Error) => {
            // Not written (a timeout may still have applied: the next plan's compares will tell).
            // The tasks are out of the timer heap: put them back, a second from now.
            this.s.log.warn({ err: err.message, tasks: plans.length }, 'writing plans failed; retrying');
            this.s.metrics.etcdError('leader');
            for (const p of plans) work.planAt(p.taskId, this.s.clock.now() + RETRY_MS);
            return true;
          }),
        );
    }
    const ok = await Promise.all(writes);
    // Cursors changed: recompute due times now.
    this.reschedule();
    if (ok.includes(false)) this.s.fenced();
  }

  /** A planned firing the backstop looks at once its candidates' turns have passed, unless a claim shows first. */
  expect(p: CandidatePlan['planned'][number]): void {
    const key = K.firingId(p.taskId, p.scheduledMs, p.replica);
    this.s.planned.set(key, p);
    this.s.work.backstopAt(key, backstopAtMs(p, this.s.candidates?.stepMs ?? 0));
  }

  /** Writes assignments (protocol 1) and records the outcome; false when fenced. */
  private write(plans: FiringPlan[]): Promise<boolean> {
    return this.record(() => this.s.store.writePlans(this.s.fence, plans), (p) => p.firings);
  }

  /** Writes candidate plans (protocol v2) and records the outcome, each planned firing for the backstop too; false when fenced. */
  private async writeCandidates(plans: CandidatePlan[]): Promise<boolean> {
    // Until they are in `planned`, the mark on the plans waits for these instants.
    let earliest = Infinity;
    for (const p of plans) for (const x of p.planned) if (x.scheduledMs < earliest) earliest = x.scheduledMs;
    const release = this.s.unsettled.hold(earliest);
    // When the write throws (an etcd error), the hold is never released: some of these chunks
    // may be stored (another transaction of the write committed, or this one after its timeout)
    // without this leader holding their firings, and its retry plans past them once their cursors
    // moved. So the mark stays before them for as long as this node leads, and the next leader
    // reads them.
    const written = await this.record(() => this.s.plans.writePlans(this.s.fence, plans), (p) => p.planned, (p) => p.planned.forEach((x) => this.expect(x)));
    release();
    return written;
  }

  /** The outcome of a plan write in the view: the cursors it moved, or the tasks to plan again. */
  private async record<P extends { taskId: string; cursor: { expectRev: number; toMs: number }; skipped: Run[] }>(
    write: () => Promise<{ plan: P; ok: boolean; revision: number }[] | null>,
    firings: (p: P) => Pick<Firing, 'trigger' | 'scheduledMs'>[],
    written: (p: P) => void = () => undefined,
  ): Promise<boolean> {
    const { work, view, metrics } = this.s;
    const t0 = this.s.clock.now();
    const results = await write();
    metrics.etcdTxn(this.s.clock.now() - t0);
    if (!results) return false;
    for (const r of results) {
      const id = r.plan.taskId;
      if (r.ok) {
        view.cursors.set(id, { value: r.plan.cursor.toMs, modRevision: r.revision });
        metrics.planned(firings(r.plan), r.plan.skipped);
        written(r.plan);
      } else {
        // Someone moved the cursor (an update, a resume), the firing exists, or the task is gone
        // and the watch has not said so yet: plan it again only once its cursor has been re-read
        // (the same path as a task that changed; a deleted task's cursor is gone with it).
        metrics.planConflict(firings(r.plan).length);
        this.s.log.debug({ taskId: id, expectRev: r.plan.cursor.expectRev, firings: firings(r.plan).map((f) => f.scheduledMs) }, 'plan conflict');
        view.cursors.delete(id);
        work.cursors.add(id);
      }
      work.tasks.add(id);
    }
    return true;
  }
}
