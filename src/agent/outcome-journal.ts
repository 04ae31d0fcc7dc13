import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeFirings } from '../store/node-firings.js';
import type { Firing } from '../domain/firing.js';
import { sameClaim } from '../domain/firing-transitions.js';
import type { Run, Task } from '../domain/task.js';
import type { Clock } from '../domain/clock.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';

/** An attempt's outcome as the node commits it: the firing at its claim's revision, the run record, the next firing (a retry) or none. */
export interface Outcome {
  nodeId: string;
  rev: number;
  firing: Firing;
  run: Run;
  next: Firing | null;
}

export type OutcomeResult = 'ok' | 'stale' | 'late' | 'already';

/** How long a journalled outcome holds its firing from being taken for lost (see holds()). */
export const HOLD_MS = 5 * 60_000;

/**
 * Commits one outcome: the firing's own transaction if the firing is still as claimed ('ok');
 * if the leader took it back meanwhile (its lease was gone: it wrote the attempt `lost`), the
 * run record alone, when it is absent or says `lost` ('late'). 'already': this outcome was
 * committed before (a reply lost on the way); 'stale': another outcome is there. Throws what
 * etcd throws.
 *
 * The firing may also be this very attempt at a newer revision: the node's write of the pid
 * applied although its reply was lost (etcd cut off just then; the node gave up making sure of it
 * when its lease deadline passed). The outcome (and its retry, if any) is then committed at that
 * revision; recorded late instead, its firing would stay behind for the leader to take as lost
 * and run again.
 */
export async function commitOutcome(store: NodeFirings, o: Outcome): Promise<OutcomeResult> {
  if ((await store.complete(o.nodeId, o.rev, o.firing, o.run, o.next)) === 'ok') return 'ok';
  const now = await store.getFiring(o.firing.taskId, o.firing.scheduledMs, o.firing.replica);
  if (now && now.modRevision !== o.rev && sameClaim(now.firing, o.firing)) {
    if ((await store.complete(o.nodeId, now.modRevision, o.firing, o.run, o.next)) === 'ok') return 'ok';
  }
  const r = await store.recordLate(o.run);
  return r === 'ok' ? 'late' : r === 'same' ? 'already' : 'stale';
}

/**
 * Outcomes etcd did not take, kept until it does. An outcome whose commit failed (etcd
 * unreachable, no quorum, out of space) is appended to a small journal under the node's data
 * dir (fsynced) and committed again every second or so until it is in, however long that
 * takes; a node restarted meanwhile reads the journal back at start. So a run that ended while
 * etcd was away is recorded with its real result, once (commitOutcome is idempotent: the
 * firing's revision and the run record's state guard it).
 */
export class OutcomeJournal {
  private readonly file: string;
  private readonly pending = new Map<string, { o: Outcome; task: Task | null; keptMs: number }>();
  private timer: (() => void) | null = null;
  private flushing: Promise<void> | null = null;
  private closed = false;

  constructor(
    dataDir: string,
    private readonly store: NodeFirings,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    /** Told of each outcome once it is committed (callbacks, alerts, history pruning). */
    private readonly ended: (task: Task | null, run: Run, retrying: boolean) => void,
  ) {
    this.file = join(dataDir, 'outcomes.journal');
  }

  get size(): number {
    return this.pending.size;
  }

  /**
   * Whether this run's outcome is here, not committed yet, and kept for less than HOLD_MS: the
   * node's own leader waits for it rather than take the run for lost. An outcome etcd keeps
   * refusing longer (a role taken away, a request it always rejects) does not hold its firing
   * for ever: the leader then takes it as lost, and the outcome, if it ever commits, is recorded
   * late.
   */
  holds(runId: string): boolean {
    const e = this.pending.get(runId);
    return !!e && this.clock.now() - e.keptMs < HOLD_MS;
  }

  /** Reads what an earlier process left and starts committing it. */
  start(): void {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return; // no journal: nothing was left
    }
    let unreadable = 0;
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const o = JSON.parse(line) as Outcome;
        this.pending.set(o.run.id, { o, task: null, keptMs: this.clock.now() });
      } catch {
        unreadable++;
        this.log.warn({ file: this.file }, 'unreadable line in the outcome journal: skipped (a write cut short by a crash)');
      }
    }
    // Without the cut line: the next entry appended must not run on from it.
    if (unreadable) this.rewrite();
    if (this.pending.size) this.log.warn({ outcomes: this.pending.size }, 'outcomes left by the last run of this node: committing them');
    this.arm(0);
  }

  /** Keeps an outcome etcd did not take (written to disk before this returns). */
  keep(o: Outcome, task: Task | null): void {
    this.pending.set(o.run.id, { o, task, keptMs: this.clock.now() });
    const fd = openSync(this.file, 'a', 0o600);
    try {
      appendFileSync(fd, JSON.stringify(o) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.metrics.outcomesJournalled();
    this.arm(1_000);
  }

  /**
   * One round now (after the round in progress, if any): a node starting a new incarnation
   * commits what it journalled before the leader can find its old lease gone and take the
   * firings back as lost.
   */
  async flushNow(): Promise<void> {
    if (this.flushing) await this.flushing;
    this.timer?.();
    this.timer = null;
    await this.flush();
  }

  stop(): void {
    this.closed = true;
    this.timer?.();
    this.timer = null;
  }

  private arm(ms: number): void {
    if (this.closed || this.timer || this.flushing || this.pending.size === 0) return;
    this.timer = this.clock.timeout(ms, () => {
      this.timer = null;
      void this.flush();
    });
  }

  private flush(): Promise<void> {
    if (!this.flushing) this.flushing = this.round().finally(() => {
      this.flushing = null;
      this.arm(1_000);
    });
    return this.flushing;
  }

  private async round(): Promise<void> {
    let done = 0;
    try {
      for (const [id, { o, task }] of [...this.pending]) {
        if (this.closed) break;
        let r: OutcomeResult;
        try {
          r = await commitOutcome(this.store, o);
        } catch (err) {
          this.log.debug({ err: (err as Error).message, runId: id }, 'journalled outcome not committed yet');
          break; // etcd still away: the rest waits for the next round
        }
        this.pending.delete(id);
        done++;
        this.log.info({ runId: id, state: o.run.state, how: r }, 'journalled outcome committed');
        if (r !== 'stale') this.ended(task, o.run, o.next !== null && (r === 'ok' || r === 'already'));
      }
      if (done) this.rewrite();
    } catch (err) {
      this.log.error({ err }, 'outcome journal round failed');
    }
  }

  /** The journal holds what is still pending (written whole, then renamed over the old one). */
  private rewrite(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, [...this.pending.values()].map(({ o }) => JSON.stringify(o) + '\n').join(''), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
