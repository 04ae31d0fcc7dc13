import { K } from '../store/keys.js';
import { newFiring } from '../domain/firing.js';
import { backstopAtMs, claimAtMs, type PlannedFiring } from '../domain/candidates.js';
import { decayed, slowerClaim, type SlowClaim } from '../domain/claims.js';
import { RETRY_MS, type LeaderState } from './leader-state.js';

/** Planned firings older than this are forgotten by the leader and their chunks deleted. */
export const PLAN_KEEP_MS = 60_000;

/** A new leader spreads its look at the planned firings whose turns passed before it over this long. */
const LOOKBACK_SPREAD_MS = 3_000;

/** How often the leader drops chunks past PLAN_KEEP_MS (one range delete). */
const PRUNE_EVERY_MS = 10_000;

/** How often the leader moves its mark on the plans (one fenced put, when it moved). */
const SETTLE_EVERY_MS = 1_000;

/**
 * The leader's net under protocol v2 (domain/candidates.ts): a planned firing that none of its
 * candidates claimed in its turn (all dead, draining or full, or the plan reached them late)
 * is written as an unassigned firing, which the repairs then place on a live node or record as
 * missed by its misfire policy, as any other. The write compares that neither the firing nor
 * its first run exists and that the task is unchanged, so a claim the watch has not shown yet,
 * a run that already ended, or a task changed since, all leave it alone.
 */
export class Backstop {
  private prunedMs = 0;
  /** This leader has read the stored plans (its mark may move only from then on). */
  private loaded = false;
  private settledMs = -Infinity;
  private settleAtMs = 0;
  /** The slowest recent claim, from its instant to this leader seeing it (stretches the wait: backstopAtMs). */
  private slow: SlowClaim = { delayMs: 0, atMs: 0 };

  constructor(private readonly s: LeaderState) {}

  /**
   * Every planned firing still stored that the last leader's mark does not cover, as a new
   * leader finds them: each looked after at its time. However old: the chunks are deleted only
   * by a leader, so those still there may hold firings of an outage (every lease lost, no
   * leader) that nobody claimed and no leader looked at; the misfire policy decides whether they
   * still run. The mark (settle) spares it the rest: at 1,000 firings/s a minute of plans is
   * 60,000 firings, each a read, at the moment the cluster is busiest.
   */
  async load(expect: (p: PlannedFiring) => void): Promise<void> {
    if (!this.s.candidates) return;
    const settled = await this.s.plans.settled();
    const { planned } = await this.s.plans.list(settled);
    const now = this.s.clock.now();
    // Those whose turns passed while nobody led (most were claimed): looked at over the next few
    // seconds, not all at once while the cluster is busiest (the candidates' claims, a restarted
    // node), longer when there are many.
    const spreadMs = LOOKBACK_SPREAD_MS + planned.length / 20;
    let n = 0;
    for (const p of planned) {
      const key = K.firingId(p.taskId, p.scheduledMs, p.replica);
      if (this.s.view.firings.has(key)) continue;
      expect(p);
      if (backstopAtMs(p, this.s.candidates.stepMs) < now) this.s.work.backstopAt(key, now + (spreadMs * ((n % 64) + 1)) / 64);
      n++;
    }
    this.loaded = true;
    this.s.log.info({ planned: planned.length, lookedAfter: n, settledMs: settled?.ms ?? null }, 'planned firings read: the backstop looks after each nobody claims');
  }

  /**
   * Moves the mark on the plans (K.plansSettled, at most once a second): the earliest instant
   * this leader has not settled, i.e. still planned and not seen claimed, or in a write or a
   * backstop look in flight; now when there is none. Every planned firing before it was claimed
   * or looked after, so the next leader need not read it.
   */
  async settle(now: number): Promise<void> {
    if (!this.s.candidates || !this.loaded || now < this.settleAtMs) return;
    this.settleAtMs = now + SETTLE_EVERY_MS;
    let ms = Math.min(now, this.s.unsettled.min());
    for (const p of this.s.planned.values()) if (p.scheduledMs < ms) ms = p.scheduledMs;
    if (ms <= this.settledMs) return;
    try {
      if ((await this.s.plans.settle(this.s.fence, ms)) === 'fenced') return this.s.fenced();
      this.settledMs = ms;
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'moving the mark on the plans failed; again in a second');
      this.s.metrics.etcdError('leader');
    }
  }

  /**
   * A firing of a planned instant showed up (a claim): nothing to look after. `node`: the
   * claimer, as the watch event says (none from a listing): how late the claim reached this
   * leader after that candidate's turn, for the backstop's wait.
   */
  claimed(key: string, node?: string): void {
    const p = this.s.planned.get(key);
    if (!p) return;
    this.s.planned.delete(key);
    this.s.work.backstopAt(key, null);
    const turn = node !== undefined && p.trigger === 'schedule' ? claimAtMs(p, node, this.s.candidates?.stepMs ?? 0) : null;
    const now = this.s.clock.now();
    if (turn !== null) this.slow = slowerClaim(this.slow, now - turn, now);
  }

  /** When the backstop looks at `p` as things stand (claims slow now: later). */
  dueMs(p: PlannedFiring): number {
    return backstopAtMs(p, this.s.candidates?.stepMs ?? 0, decayed(this.slow, this.s.clock.now()));
  }

  /** The planned firings whose candidates' turns have passed. */
  async run(): Promise<void> {
    const { work, planned } = this.s;
    const keys = [...work.backstops];
    work.backstops.clear();
    // Taken out of `planned` below, settled only when this look is done.
    let earliest = Infinity;
    for (const key of keys) earliest = Math.min(earliest, planned.get(key)?.scheduledMs ?? Infinity);
    const release = this.s.unsettled.hold(earliest);
    try {
      await this.look(keys);
    } finally {
      release();
    }
  }

  private async look(keys: string[]): Promise<void> {
    const { work, view, planned, metrics } = this.s;
    let items: { p: PlannedFiring; firing: ReturnType<typeof newFiring>; taskRev: number }[] = [];
    const now = this.s.clock.now();
    for (const key of keys) {
      const p = planned.get(key);
      if (!p) continue;
      // Claims have grown slow since it was planned: its look waits for them (no read now).
      const due = this.dueMs(p);
      if (due > now) {
        work.backstopAt(key, due);
        continue;
      }
      planned.delete(key);
      if (view.firings.has(key)) {
        metrics.backstop('ran');
        continue;
      }
      const t = view.tasks.get(p.taskId);
      if (!t || !t.value.enabled || t.modRevision !== p.taskRev) {
        metrics.backstop('dropped'); // a changed task's instants were planned again from its new definition
        continue;
      }
      items.push({ p, firing: newFiring(t.value, p.scheduledMs, p.trigger, now, undefined, p.replica), taskRev: p.taskRev });
    }
    if (items.length > 0) {
      try {
        // A new leader finds many planned firings whose claims it never saw: a read first (not a
        // raft proposal, unlike a write whose compares fail) leaves out those claimed or run.
        const open = await Promise.all(items.map((i) => this.s.plans.open(i.p)));
        metrics.backstop('ran', open.filter((o) => !o).length);
        items = items.filter((_, i) => open[i]);
        const r = await this.s.plans.backstop(this.s.fence, items);
        if (r.includes('fenced')) return this.s.fenced();
        const placed = r.filter((x) => x === 'ok').length;
        metrics.backstop('placed', placed);
        metrics.backstop('ran', r.filter((x) => x === 'stale').length);
        if (placed > 0) this.s.log.info({ placed, looked: keys.length }, 'planned firings no candidate claimed in its turn: written for the leader to place');
      } catch (err) {
        this.s.log.warn({ err: (err as Error).message, firings: items.length }, 'backstop write failed; retrying');
        metrics.etcdError('leader');
        for (const { p } of items) {
          const key = K.firingId(p.taskId, p.scheduledMs, p.replica);
          planned.set(key, p);
          work.backstopAt(key, now + RETRY_MS);
        }
      }
    }
  }

  /** Chunks whose firings are all past PLAN_KEEP_MS go, every PRUNE_EVERY_MS at most (each leader step asks). */
  async prune(now: number): Promise<void> {
    if (!this.s.candidates || now - this.prunedMs < PRUNE_EVERY_MS) return;
    this.prunedMs = now;
    try {
      await this.s.plans.deleteThrough(now - PLAN_KEEP_MS);
    } catch (err) {
      this.s.log.warn({ err: (err as Error).message }, 'deleting old plans failed');
      this.s.metrics.etcdError('leader');
    }
  }
}
