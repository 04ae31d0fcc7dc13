import { TimerHeap } from '../lib/timer-heap.js';

/**
 * What the leader has to look at, as typed items. Watch events and the parts' own outcomes mark
 * them; each step takes them. Timed items (a task's next planning time, a firing's retry or
 * expiry) wait in one heap until due.
 */
export class LeaderWork {
  /** Tasks whose next planning time must be recomputed (changed, planned, conflicted). */
  readonly tasks = new Set<string>();
  /** Tasks whose cursor may have been written with them (created, updated): read before planning. */
  readonly cursors = new Set<string>();
  /** Firings to look at (repair.ts decides what they need). */
  readonly firings = new Set<string>();
  /** Manual trigger requests to consume. */
  readonly triggers = new Set<string>();
  /** Planned firings (v2) whose candidates' turns have all passed: claimed, or the leader steps in. */
  readonly backstops = new Set<string>();
  /** Decisions already written, per firing key and the revision they were made for. */
  readonly repaired = new Map<string, number>();
  readonly killed = new Map<string, number>();

  private readonly due = new TimerHeap();
  private claimCheck = false;

  /** When the task next needs planning (null: never on its own). */
  planAt(taskId: string, ms: number | null): void {
    this.due.set('plan ' + taskId, ms);
  }

  /** When the firing needs looking at again (a retry due, an expiry). */
  repairAt(firingKey: string, ms: number): void {
    this.due.set('repair ' + firingKey, ms);
  }

  /** When a planned firing is looked at if no candidate has claimed it (domain/candidates.ts backstopAtMs). */
  backstopAt(firingKey: string, ms: number | null): void {
    this.due.set('backstop ' + firingKey, ms);
  }

  /** When the nodes' claims need looking at (an assignment's claim deadline: domain/claims.ts). */
  claimsAt(ms: number | null): void {
    this.due.set('claims', ms);
  }

  /** Whether a claim deadline has passed since the last call (set by takeDue). */
  takeClaimCheck(): boolean {
    const was = this.claimCheck;
    this.claimCheck = false;
    return was;
  }

  /** The earliest due time, or null when nothing waits. */
  nextDue(): number | null {
    return this.due.peek();
  }

  /** Everything due at nowMs: the tasks to plan; the firings due are added to `firings`. */
  takeDue(nowMs: number): string[] {
    const plan: string[] = [];
    for (const k of this.due.takeDue(nowMs)) {
      if (k.startsWith('plan ')) plan.push(k.slice(5));
      else if (k === 'claims') this.claimCheck = true;
      else if (k.startsWith('backstop ')) this.backstops.add(k.slice(9));
      else this.firings.add(k.slice(7));
    }
    return plan;
  }

  /** Memos of written decisions are only a shortcut (etcd's compares are the truth): bounded. */
  trimMemos(max = 10_000): void {
    if (this.repaired.size > max) this.repaired.clear();
    if (this.killed.size > max) this.killed.clear();
  }
}
