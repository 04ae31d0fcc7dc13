import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSlot, type SlotDeps } from '../../src/agent/run-slot.js';
import type { Firing } from '../../src/domain/firing.js';
import { DEFAULT_POLICIES, type Run, type Task } from '../../src/domain/task.js';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { NodeFirings } from '../../src/store/node-firings.js';
import type { NodeSession } from '../../src/store/session.js';
import { waitFor } from '../support/etcd.js';
import { tempDir } from '../support/tmp.js';

/**
 * How a write fails: before it applied, after it applied, or 'later': the proposal timed out,
 * the firing read back still unchanged, and then etcd committed it after all.
 */
type Failure = 'before' | 'after' | 'later';

/**
 * A firing store in memory whose writes can fail the way etcd's do: an error before the write
 * (not applied) or after it (applied, but the caller never heard).
 */
class FlakyStore {
  firing: Firing | null = null;
  rev = 1;
  runs: Run[] = [];
  /** Failures to inject into the next update() / claim() calls, in order. */
  failUpdates: Failure[] = [];
  failClaims: Failure[] = [];
  /** A write that failed 'later': applied by etcd after the next read of the firing. */
  private pending: (() => void) | null = null;
  updates = 0;
  constructor(readonly task: Task) {}

  private fail(kind: Failure | undefined, apply: () => void): void {
    if (kind === 'before') throw new Error('deadline exceeded (not applied)');
    if (kind === 'later') {
      this.pending = apply;
      throw new Error('deadline exceeded (committed after the next read)');
    }
    apply();
    if (kind === 'after') throw new Error('deadline exceeded (applied)');
  }

  async claim(_node: string, _lease: string, assignmentRev: number, running: Firing) {
    if (this.rev !== assignmentRev) return null;
    this.fail(this.failClaims.shift(), () => {
      this.firing = running;
      this.rev++;
    });
    return { revision: this.rev, task: this.task };
  }

  async update(_node: string, expectRev: number, firing: Firing, runs: Run[]) {
    this.updates++;
    if (this.rev !== expectRev) return 0;
    this.fail(this.failUpdates.shift(), () => {
      this.firing = JSON.parse(JSON.stringify(firing)) as Firing;
      this.rev++;
      this.runs.push(...runs);
    });
    return this.rev;
  }

  async complete(_node: string, claimRev: number, _f: Firing, run: Run, next: Firing | null) {
    if (this.rev !== claimRev) return 'stale' as const;
    this.runs.push(run);
    this.firing = next;
    this.rev++;
    return 'ok' as const;
  }

  async recordLate() {
    return 'stale' as const;
  }

  async getFiring() {
    const seen = this.firing ? { firing: this.firing, modRevision: this.rev } : null;
    this.pending?.();
    this.pending = null;
    return seen;
  }

  async readTask() {
    return this.task;
  }
}

function daemon(): Task {
  const now = Date.now();
  return {
    id: '7', tenant: 'default', name: 'd', enabled: true, schedule: { daemon: true }, action: { process: { command: 'true', env: {} } }, replicas: 1,
    placement: { strategy: 'least-loaded' }, policies: { ...DEFAULT_POLICIES, restart: { delayMs: 20, maxBackoffMs: 20, resetAfterMs: 60_000 } }, createdMs: now, updatedMs: now,
  };
}

function deps(store: FlakyStore, ended: Run[]): SlotDeps {
  const dir = tempDir('rota-slot-');
  const deadlineFile = join(dir, 'deadline');
  writeFileSync(deadlineFile, String(Date.now() + 3_600_000));
  const session = { leaseNumeric: '1', alive: () => true } as unknown as NodeSession;
  return {
    store: store as unknown as NodeFirings, session, nodeId: 'n1', clock: systemClock, log: silentLogger, metrics: new Metrics(),
    opts: { dataDir: dir, outputCapBytes: 65_536, tailBytes: 1024, killGraceMs: 500, allowedUsers: [], deadlineFile },
    journal: { keep: () => { throw new Error('no outcome should need the journal here'); } },
    accepting: () => true,
    ended: (_t, run) => ended.push(run),
  };
}

const assigned = (t: Task): Firing => ({ taskId: t.id, tenant: t.tenant, scheduledMs: t.updatedMs, attempt: 1, trigger: 'schedule', state: 'assigned', node: 'n1', lease: 'L1', dueMs: Date.now() });

describe('run slot: firing writes that fail like etcd (read back, never given up while the lease holds)', function () {
  this.timeout(20_000);

  const how = { before: 'before it applied', after: 'after it applied', later: 'and applies after it was read back unchanged' } as const;
  for (const kind of ['before', 'after', 'later'] as const) {
    it(`a daemon replica keeps restarting when a restart write fails ${how[kind]}`, async () => {
      const t = daemon();
      const store = new FlakyStore(t);
      store.firing = assigned(t);
      store.failUpdates = [kind, kind]; // the first restart-wait write, then the first restart write
      const ended: Run[] = [];
      const abort = new AbortController();
      const slot = runSlot(deps(store, ended), store.firing, store.rev, abort, () => undefined);
      // Before the fix the slot ended at the first failed write, the firing left "running".
      await waitFor(() => (store.firing?.restarts ?? 0) >= 3, 'three restarts despite the failed writes', 15_000);
      abort.abort('stop');
      await slot;
      expect(ended.filter((r) => r.state === 'succeeded').length).to.be.at.least(3);
      // Each attempt ended once, in order, none skipped or doubled.
      const endedAttempts = store.runs.filter((r) => r.state === 'succeeded').map((r) => r.attempt);
      expect(endedAttempts).to.deep.equal(endedAttempts.map((_, i) => i + 1));
    });
  }

  it('a claim whose answer was lost but which applied is ours: the run starts', async () => {
    const t = { ...daemon(), schedule: { manual: true } as const, action: { process: { command: 'echo ran', env: {} } } };
    const store = new FlakyStore(t);
    store.firing = assigned(t);
    store.failClaims = ['after'];
    const ended: Run[] = [];
    await runSlot(deps(store, ended), store.firing, store.rev, new AbortController(), () => undefined);
    expect(ended.map((r) => [r.state, r.outputTail])).to.deep.equal([['succeeded', 'ran\n']]);
    expect(store.firing).to.equal(null); // the outcome committed
  });

  it('a claim that failed before it applied is tried again', async () => {
    const t = { ...daemon(), schedule: { manual: true } as const, action: { process: { command: 'echo ran', env: {} } } };
    const store = new FlakyStore(t);
    store.firing = assigned(t);
    store.failClaims = ['before'];
    const ended: Run[] = [];
    await runSlot(deps(store, ended), store.firing, store.rev, new AbortController(), () => undefined);
    expect(ended.map((r) => r.state)).to.deep.equal(['succeeded']);
  });

  it('a claim that timed out, read back unapplied, then committed after all, is ours: the claim sent again is refused by its own compares and read back', async () => {
    const t = { ...daemon(), schedule: { manual: true } as const, action: { process: { command: 'echo ran', env: {} } } };
    const store = new FlakyStore(t);
    store.firing = assigned(t);
    store.failClaims = ['later'];
    const ended: Run[] = [];
    await runSlot(deps(store, ended), store.firing, store.rev, new AbortController(), () => undefined);
    // Before agent/sure.ts the second claim's refusal was taken as "not ours": the firing stayed
    // running on a live lease with nothing running it, and no repair of the leader's took it.
    expect(ended.map((r) => [r.state, r.outputTail])).to.deep.equal([['succeeded', 'ran\n']]);
    expect(store.firing).to.equal(null);
  });

  it('a run that ended with its own result keeps it when the lease is lost afterwards, while its pid write is still read back: journalled, not left to the leader', async () => {
    const t = { ...daemon(), schedule: { manual: true } as const, action: { process: { command: 'echo ran; exit 3', env: {} } } };
    /** etcd away from the pid write on: every write and read fails; the lease goes once the process is gone. */
    class AwayStore extends FlakyStore {
      away = false;
      pid: number | undefined;
      readsAfterExit = 0;
      leaseGone = false;
      readonly abort = new AbortController();
      override async update(node: string, expectRev: number, firing: Firing, runs: Run[]) {
        if (firing.pid !== undefined) {
          this.pid = firing.pid;
          this.away = true;
        }
        if (this.away) throw new Error('14 UNAVAILABLE');
        return super.update(node, expectRev, firing, runs);
      }
      override async getFiring() {
        if (!this.away) return super.getFiring();
        if (!processAlive(this.pid!) && ++this.readsAfterExit >= 2 && !this.leaseGone) {
          // The process ended some read-backs ago; now the lease runs out (the agent aborts every slot).
          this.leaseGone = true;
          this.abort.abort('lease-lost');
        }
        throw new Error('14 UNAVAILABLE');
      }
      override async complete(): Promise<'ok'> {
        throw new Error('14 UNAVAILABLE');
      }
    }
    const store = new AwayStore(t);
    store.firing = assigned(t);
    const ended: Run[] = [];
    const kept: Run[] = [];
    const d: SlotDeps = { ...deps(store, ended), session: { leaseNumeric: '1', alive: () => !store.leaseGone } as unknown as NodeSession, journal: { keep: (o) => void kept.push(o.run) } };
    await runSlot(d, store.firing, store.rev, store.abort, () => undefined);
    expect(store.leaseGone, 'the lease was lost while the pid write was read back').to.equal(true);
    // Before the fix the attempt was decided after the pid write gave up: "left for the leader to mark lost".
    expect(kept.map((r) => [r.state, r.exitCode, r.outputTail])).to.deep.equal([['failed', 3, 'ran\n']]);
  });
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
