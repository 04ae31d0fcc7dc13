import type { Firing } from '../domain/firing.js';
import { CLAIM_DEADLINE_MS, claimDeadline, silentLeases, slowerClaim, type SlowClaim, type Unclaimed } from '../domain/claims.js';

/**
 * What the leader's firing watch says about the nodes' claims: the assignments not claimed yet
 * (since when) and each lease's last claim. From them, the silent nodes (domain/claims.ts): a
 * killed worker is found within a second (up to four when every claim is slow, see
 * claimDeadline) instead of at its lease's expiry, gets no new
 * work, and its unclaimed firings go elsewhere (each move compares the firing's revision, so a
 * claim that races it wins or loses whole).
 */
export class ClaimWatch {
  private readonly unclaimed = new Map<string, Unclaimed>();
  private readonly lastClaim = new Map<string, number>();
  private silent = new Map<string, number>();
  /** When silentNow last looked: a deadline already looked at is not a reason to look again. */
  private checkedMs = -Infinity;
  /** The slowest recent claim: the deadline grows with it (domain/claims.ts claimDeadline). */
  private slow: SlowClaim = { delayMs: 0, atMs: 0 };

  /** `floorMs`: the deadline when claims are quick (tests set it; CLAIM_DEADLINE_MS otherwise). */
  constructor(private readonly floorMs = CLAIM_DEADLINE_MS) {}

  /** How long an assignment may wait for its node's claim now. */
  deadlineMs(nowMs: number): number {
    return Math.max(this.floorMs, claimDeadline(this.slow, nowMs));
  }

  /** A firing changed (before/after the event). */
  changed(key: string, before: Firing | undefined, after: Firing | undefined, nowMs: number): void {
    const was = this.unclaimed.get(key);
    if (before?.state === 'assigned' && after?.state === 'running' && after.lease === before.lease && before.lease) {
      this.lastClaim.set(before.lease, nowMs);
      if (was && was.lease === before.lease) this.slow = slowerClaim(this.slow, nowMs - was.sinceMs, nowMs);
    }
    if (after?.state === 'assigned' && after.lease) {
      if (!was || was.lease !== after.lease) this.unclaimed.set(key, { lease: after.lease, sinceMs: nowMs });
      return;
    }
    if (was) this.unclaimed.delete(key);
  }

  /** After a reset of the firings: every assignment waits from now. */
  reset(firings: Iterable<[string, Firing]>, nowMs: number): void {
    this.unclaimed.clear();
    for (const [key, f] of firings) if (f.state === 'assigned' && f.lease) this.unclaimed.set(key, { lease: f.lease, sinceMs: nowMs });
  }

  /** The silent leases now, each with the time it fell silent; `fresh`: those new since the last call. */
  silentNow(live: ReadonlySet<string>, nowMs: number): { silent: ReadonlySet<string>; fresh: string[] } {
    const next = silentLeases(this.unclaimed.values(), this.lastClaim, this.silent, live, nowMs, this.deadlineMs(nowMs));
    this.checkedMs = nowMs;
    const fresh = [...next.keys()].filter((l) => !this.silent.has(l));
    this.silent = next;
    for (const l of this.lastClaim.keys()) if (!live.has(l)) this.lastClaim.delete(l);
    return { silent: new Set(next.keys()), fresh };
  }

  /**
   * The next claim deadline not looked at yet, of an assignment not on a silent lease (null:
   * none). One that passed without making its node silent (the node claimed since, or it is the
   * only one) is not looked at again: its node's next assignment is.
   */
  nextCheckMs(nowMs: number): number | null {
    const deadline = this.deadlineMs(nowMs);
    let first: number | null = null;
    for (const u of this.unclaimed.values()) {
      const at = u.sinceMs + deadline;
      if (at > this.checkedMs && !this.silent.has(u.lease) && (first === null || at < first)) first = at;
    }
    return first;
  }

  /** Keys of the assignments waiting on this lease. */
  waitingOn(lease: string): string[] {
    const out: string[] = [];
    for (const [k, u] of this.unclaimed) if (u.lease === lease) out.push(k);
    return out;
  }
}
