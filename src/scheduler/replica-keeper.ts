import { K } from '../store/keys.js';
import { droppedRun, firingRunId, isDaemon } from '../domain/firing.js';
import { planReplicas } from '../domain/replicas.js';
import { place } from './planner.js';
import type { LeaderState } from './leader-state.js';

/**
 * Daemon replicas kept at their count and generation; the firings of paused tasks that have not
 * started dropped (or stopped, when claimed ahead: the node hands them back); the firings of
 * deleted tasks stopped. replicas.ts decides.
 */
export class ReplicaKeeper {
  constructor(private readonly s: LeaderState) {}

  /** The tasks whose firings may need this (changed tasks, firings of paused or deleted ones). */
  async keep(ids: string[]): Promise<void> {
    const { view, work, store } = this.s;
    const ctx = this.s.planContext();
    for (const id of ids) {
      if (!this.s.canWrite()) return;
      const firings = view.firingsOf(id);
      // A task the view lacks is read from etcd before its firings are taken for a deleted task's.
      // etcd unavailable: left as it is (the task's next event, or its firing's, brings it back).
      const task = firings.length > 0 ? await this.s.task(id).catch(() => null) : view.tasks.get(id)?.value;
      if (task === null) continue;
      if (task && task.enabled && !isDaemon(task)) continue; // nothing to keep at a count
      if (!task && firings.length === 0) continue;
      const plan = planReplicas(task, firings, ctx.nowMs);
      for (const e of plan.kill) {
        const key = K.firingId(e.value.taskId, e.value.scheduledMs, e.value.replica);
        if (work.killed.get(key) === e.modRevision || !e.value.node) continue;
        work.killed.set(key, e.modRevision);
        await this.s.triggers.requestKill(e.value.node, firingRunId(e.value), 'stop');
      }
      for (const e of plan.drop) {
        // Recorded, so the attempt does not just vanish from the history (a deleted task's history goes with it).
        const runs = task && !isDaemon(task) ? [droppedRun(e.value, 'not started: the task was paused before this attempt started', ctx.nowMs)] : [];
        const r = await store.transition(this.s.fence, { firing: e.value, modRevision: e.modRevision }, null, runs);
        if (r === 'fenced') return this.s.fenced();
        if (r === 'ok') view.forget(K.firingId(e.value.taskId, e.value.scheduledMs, e.value.replica));
      }
      if (plan.create.length > 0 && task) {
        const placed = plan.create.map((f) => place(f, task, ctx));
        const r = await store.createFirings(this.s.fence, placed);
        if (r === 'fenced') return this.s.fenced();
      }
    }
  }

  /** Daemon replicas as this leader sees them (for /metrics). */
  counts(): { desired: number; running: number; backoff: number } {
    let desired = 0;
    let running = 0;
    let backoff = 0;
    for (const { value: t } of this.s.view.tasks.values()) {
      if (!isDaemon(t) || !t.enabled) continue;
      desired += t.replicas;
      for (const f of this.s.view.firingsOf(t.id)) {
        if (f.value.state !== 'running') continue;
        if (f.value.pid === undefined && f.value.backoffMs !== undefined) backoff++;
        else running++;
      }
    }
    return { desired, running, backoff };
  }
}
