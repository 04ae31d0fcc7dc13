import type { LeaderFirings } from '../store/leader-firings.js';
import { K, parseFiringKey } from '../store/keys.js';
import { isDaemon, type Firing } from '../domain/firing.js';
import type { Task } from '../domain/task.js';
import { planTrigger, repairFiring, type RepairContext, type TriggerPlan } from './repair.js';
import { RETRY_MS, type LeaderState } from './leader-state.js';

/**
 * At most this many firings are moved in one step: a node's loss (hundreds of firings) is
 * written in slices, with the plan's own writes between them, not as one burst that etcd's
 * applies (and the lease renewals waiting on them) fall behind.
 */
export const MAX_MOVES_PER_STEP = 150;

/**
 * Firings after the plan: lost incarnations, firings of silent nodes, retries that are due,
 * unassigned firings (repair.ts decides), and manual trigger requests turned into firings.
 */
export class FiringRepairs {
  constructor(private readonly s: LeaderState) {}

  /** The firings marked in the work (changed, or due again), and those waiting on silent nodes. */
  async repair(): Promise<void> {
    const { view, work, metrics } = this.s;
    const ctx: RepairContext = { ...this.s.planContext(), liveLeases: view.liveLeases(), isDraining: (n) => view.nodes.get(n)?.value.state === 'draining' || !!view.nodes.get(n)?.value.clockSkewed, silent: this.s.silent(), journalled: this.s.journalled };
    for (const lease of ctx.silent ?? []) for (const k of view.claims.waitingOn(lease)) work.firings.add(k);
    const keys = [...work.firings];
    work.firings.clear();
    const moves: Parameters<LeaderFirings['transitionMany']>[1] = [];
    const stillThere = new Map<string, Promise<boolean>>(); // per incarnation, asked once
    const tasks = new Map<string, Promise<Task | undefined>>(); // tasks the view lacks, read from etcd once
    let committed = false;
    try {
      for (const [i, key] of keys.entries()) {
        if (!this.s.canWrite()) return;
        if (moves.length >= MAX_MOVES_PER_STEP) {
          for (const k of keys.slice(i)) work.repairAt(k, ctx.nowMs); // the next step, soon
          break;
        }
        const e = view.firings.get(key);
        if (!e || work.repaired.get(key) === e.modRevision) continue;
        const task = await this.s.task(e.value.taskId, tasks).catch(() => null);
        if (task === null) {
          work.repairAt(key, ctx.nowMs + RETRY_MS); // etcd unavailable: decided again later
          continue;
        }
        const r = repairFiring(e.value, task, ctx);
        if (r.kind === 'wait') work.repairAt(key, r.untilMs);
        if (r.kind !== 'transition') continue;
        if (r.confirmLeaseGone) {
          const inc = `${e.value.node}@${e.value.lease}`;
          if (!stillThere.has(inc)) stillThere.set(inc, this.nodeStillThere(e.value));
          if (await stillThere.get(inc)) continue;
        }
        if (r.lost) metrics.lost();
        if (r.retried) metrics.retried();
        metrics.planned([], r.runs.filter((x) => x.state === 'skipped')); // too late for its misfire policy
        work.repaired.set(key, e.modRevision);
        moves.push({ prev: { firing: e.value, modRevision: e.modRevision }, next: r.next, runs: r.runs });
      }
      const results = moves.length > 0 ? await this.s.store.transitionMany(this.s.fence, moves) : [];
      committed = true;
      moves.forEach((m, i) => {
        if (results[i] === 'ok') for (const run of m.runs) if (run.state === 'lost' || run.state === 'expired' || run.state === 'failed') this.s.runEnded(run, m.next !== null);
      });
      if (results.includes('fenced')) return this.s.fenced();
    } finally {
      if (!committed) {
        // Interrupted (an etcd error): the decided moves were not written; decide them again later.
        for (const m of moves) {
          const f = m.prev.firing;
          const key = K.firingId(f.taskId, f.scheduledMs, f.replica);
          work.repaired.delete(key);
          work.repairAt(key, this.s.clock.now() + RETRY_MS);
        }
      }
    }
    work.trimMemos();
  }

  private async nodeStillThere(f: Firing): Promise<boolean> {
    return !!f.node && !!f.lease && (await this.s.nodes.holds(f.node, f.lease));
  }

  /** The trigger requests marked in the work, each consumed with the firings it asked for. */
  async triggers(): Promise<void> {
    const ids = [...this.s.work.triggers];
    this.s.work.triggers.clear();
    for (const id of ids) {
      if (!this.s.canWrite()) return;
      await this.trigger(id);
    }
  }

  private async trigger(id: string): Promise<void> {
    const { view, store } = this.s;
    const e = view.triggers.get(id);
    if (!e) return;
    const p = parseFiringKey(id);
    const key = K.triggers + id;
    if (!p) {
      await this.s.triggers.drop(key);
      return;
    }
    // A trigger sent right after its task was created may come before it (LeaderState.task).
    const task = await this.s.task(p.taskId);
    let plan: TriggerPlan = { firings: [], skipped: null, kills: [] }; // gone, or a daemon: consumed only
    if (task && !isDaemon(task)) {
      let ms = p.scheduledMs;
      while (view.firings.has(K.firingId(task.id, ms))) ms++;
      const req = JSON.parse(e.value) as { params?: Record<string, unknown> | null; replace?: boolean };
      plan = planTrigger(task, ms, { ...(req.params ? { params: req.params } : {}), ...(req.replace ? { replace: true } : {}) }, view.firingsOf(task.id).map((a) => a.value), this.s.planContext());
    }
    const r = await store.consumeTrigger(this.s.fence, key, e.modRevision, plan.firings, plan.skipped, plan.kills);
    if (r === 'fenced') this.s.fenced();
    if (r === 'ok') this.s.metrics.planned(plan.firings, plan.skipped ? [plan.skipped] : []);
  }
}
