import { expect } from 'chai';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { HOLD_MS, OutcomeJournal, type Outcome } from '../../src/agent/outcome-journal.js';
import { FakeClock } from '../support/fake-clock.js';
import type { Firing } from '../../src/domain/firing.js';
import type { Run } from '../../src/domain/task.js';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { NodeFirings } from '../../src/store/node-firings.js';
import { waitFor } from '../support/etcd.js';
import { tempDir } from '../support/tmp.js';

/** etcd as the journal sees it: away (every call throws) until `up`, then firings and run records in memory. */
class Etcd {
  up = false;
  firingRev = new Map<string, number>();
  /** The firing as stored, where a test says (getFiring answers only for these). */
  firingValue = new Map<string, Firing>();
  records = new Map<string, Run>();
  writes = 0;
  private check(): void {
    if (!this.up) throw new Error('etcdserver: request timed out');
  }
  /** What an outcome put back in its firing's place (a retry). */
  nexts = new Map<string, Firing>();
  async complete(_node: string, rev: number, f: Firing, run: Run, next: Firing | null = null): Promise<'ok' | 'stale'> {
    this.check();
    const k = `${f.taskId}/${f.scheduledMs}`;
    if (this.firingRev.get(k) !== rev) return 'stale';
    this.firingRev.delete(k);
    if (next) this.nexts.set(k, next);
    this.records.set(run.id, run);
    this.writes++;
    return 'ok';
  }
  async getFiring(taskId: string, scheduledMs: number): Promise<{ firing: Firing; modRevision: number } | null> {
    this.check();
    const k = `${taskId}/${scheduledMs}`;
    const firing = this.firingValue.get(k);
    return firing && this.firingRev.has(k) ? { firing, modRevision: this.firingRev.get(k)! } : null;
  }
  async recordLate(run: Run): Promise<'ok' | 'stale' | 'same'> {
    this.check();
    const had = this.records.get(run.id);
    if (had && had.state === run.state && had.endedMs === run.endedMs && had.node === run.node) return 'same';
    if (had && had.state !== 'lost') return 'stale';
    this.records.set(run.id, run);
    this.writes++;
    return 'ok';
  }
}

const outcome = (taskId: string, exitCode: number): Outcome => {
  const firing: Firing = { taskId, tenant: 'default', scheduledMs: 1000, attempt: 1, trigger: 'schedule', state: 'running', node: 'n1', lease: 'L', dueMs: 1000, startedMs: 1000 };
  const run: Run = { id: `${taskId}-1000-1`, taskId, tenant: 'default', scheduledMs: 1000, attempt: 1, trigger: 'schedule', state: 'failed', node: 'n1', startedMs: 1000, endedMs: 2000, exitCode };
  return { nodeId: 'n1', rev: 7, firing, run, next: null };
};

/** A journal on an etcd that is up: keeps these outcomes and waits until each is settled. */
async function settleAll(etcd: Etcd, outcomes: Outcome[]): Promise<void> {
  const j = new OutcomeJournal(tempDir('rota-journal-'), etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), () => undefined);
  j.start();
  for (const o of outcomes) j.keep(o, null);
  await waitFor(() => j.size === 0, 'every outcome settled', 5_000);
  j.stop();
}

describe('outcome journal: outcomes etcd did not take are committed when it does, once, across a restart', function () {
  this.timeout(20_000);

  it('kept on disk while etcd is away; committed with their real results once it is back; the journal empties', async () => {
    const dir = tempDir('rota-journal-');
    const etcd = new Etcd();
    etcd.firingRev.set('a/1000', 7);
    etcd.firingRev.set('b/1000', 7);
    const ended: Run[] = [];
    const j = new OutcomeJournal(dir, etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), (_t, run) => ended.push(run));
    j.start();
    j.keep(outcome('a', 3), null);
    j.keep(outcome('b', 4), null);
    expect(readFileSync(join(dir, 'outcomes.journal'), 'utf8').trim().split('\n')).to.have.length(2);
    await new Promise((r) => setTimeout(r, 1_500)); // a round while etcd is still away: nothing lost, nothing written
    expect(j.size).to.equal(2);
    etcd.up = true;
    await waitFor(() => j.size === 0, 'the journal committed', 5_000);
    expect([...etcd.records.values()].map((r) => [r.taskId, r.exitCode])).to.deep.equal([['a', 3], ['b', 4]]);
    expect(ended.map((r) => r.exitCode)).to.deep.equal([3, 4]);
    expect(readFileSync(join(dir, 'outcomes.journal'), 'utf8')).to.equal('');
    j.stop();
  });

  it('holds its runs from being taken for lost while it keeps them, for at most HOLD_MS', async () => {
    const clock = new FakeClock(10_000);
    const j = new OutcomeJournal(tempDir('rota-journal-'), new Etcd() as unknown as NodeFirings, clock, silentLogger, new Metrics(), () => undefined);
    j.keep(outcome('h', 1), null);
    expect([j.holds('h-1000-1'), j.holds('other-1000-1')]).to.deep.equal([true, false]);
    await clock.advance(HOLD_MS - 1);
    expect(j.holds('h-1000-1')).to.equal(true);
    await clock.advance(1);
    expect(j.holds('h-1000-1'), 'etcd refused it for HOLD_MS: the leader may take the run as lost').to.equal(false);
    expect(j.size).to.equal(1);
    j.stop();
  });

  it('a node restarted before etcd came back commits what the last process journalled', async () => {
    const dir = tempDir('rota-journal-');
    const etcd = new Etcd();
    etcd.firingRev.set('c/1000', 7);
    const first = new OutcomeJournal(dir, etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), () => undefined);
    first.start();
    first.keep(outcome('c', 9), null);
    first.stop(); // the process dies
    etcd.up = true;
    const second = new OutcomeJournal(dir, etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), () => undefined);
    second.start();
    await waitFor(() => second.size === 0, 'the journal read back and committed', 5_000);
    expect(etcd.records.get('c-1000-1')?.exitCode).to.equal(9);
    second.stop();
  });

  it('the leader took the firing back meanwhile (attempt written lost): the run record says what really happened; a real outcome there already is not overwritten', async () => {
    const etcd = new Etcd();
    etcd.up = true;
    const d = outcome('d', 5);
    const e = outcome('e', 6);
    etcd.records.set(d.run.id, { ...d.run, state: 'lost', exitCode: undefined });
    etcd.records.set(e.run.id, { ...e.run, state: 'succeeded', exitCode: 0 });
    await settleAll(etcd, [d, e]);
    expect(etcd.records.get(d.run.id)).to.include({ state: 'failed', exitCode: 5 });
    expect(etcd.records.get(e.run.id)).to.include({ state: 'succeeded', exitCode: 0 });
  });

  it('the node\'s own pid write applied although its reply was lost (the firing newer than the claim): completed at that revision, not left for the leader to take as lost', async () => {
    const etcd = new Etcd();
    etcd.up = true;
    const p = outcome('p', 3); // claimed at revision 7
    const q = outcome('q', 4);
    etcd.firingRev.set('p/1000', 9); // ...and the pid written at 9
    etcd.firingValue.set('p/1000', { ...p.firing, pid: 4242 });
    etcd.firingRev.set('q/1000', 9); // the leader took q back: another attempt there now
    etcd.firingValue.set('q/1000', { ...q.firing, attempt: 2, node: 'n2', lease: 'M', pid: 77 });
    etcd.records.set(q.run.id, { ...q.run, state: 'lost', exitCode: undefined });
    await settleAll(etcd, [p, q]);
    expect(etcd.firingRev.has('p/1000'), 'p\'s firing completed').to.equal(false);
    expect(etcd.records.get(p.run.id)).to.include({ state: 'failed', exitCode: 3 });
    expect(etcd.firingRev.get('q/1000'), 'q\'s next attempt untouched').to.equal(9);
    expect(etcd.records.get(q.run.id), 'q recorded late').to.include({ state: 'failed', exitCode: 4 });
  });

  it('...and so is one with a retry to follow: the retry goes in at that revision', async () => {
    const etcd = new Etcd();
    etcd.up = true;
    const r = outcome('r', 2);
    const retry: Firing = { ...r.firing, attempt: 2, state: 'retry-wait', node: undefined, lease: undefined, dueMs: 5000 };
    const o = { ...r, next: retry };
    etcd.firingRev.set('r/1000', 9);
    etcd.firingValue.set('r/1000', { ...r.firing, pid: 99 });
    await settleAll(etcd, [o]);
    expect(etcd.records.get(r.run.id)).to.include({ state: 'failed', exitCode: 2 });
    expect(etcd.nexts.get('r/1000'), 'the retry written').to.include({ attempt: 2, state: 'retry-wait' });
  });

  it('an outcome committed although its reply was lost (journalled all the same) is not written twice, and its follow-ups still happen', async () => {
    const dir = tempDir('rota-journal-');
    const etcd = new Etcd();
    etcd.up = true;
    const o = outcome('g', 7);
    etcd.records.set(o.run.id, o.run); // the first commit applied: firing gone, record there
    const ended: Run[] = [];
    const j = new OutcomeJournal(dir, etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), (_t, run) => ended.push(run));
    j.start();
    j.keep(o, null);
    await waitFor(() => j.size === 0, 'settled', 5_000);
    expect(etcd.writes).to.equal(0);
    expect(ended.map((r) => r.exitCode)).to.deep.equal([7]);
    j.stop();
  });

  it('a line cut short by a crash is skipped, the others are committed', async () => {
    const dir = tempDir('rota-journal-');
    const etcd = new Etcd();
    etcd.up = true;
    etcd.firingRev.set('f/1000', 7);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(dir, 'outcomes.journal'), JSON.stringify(outcome('f', 1)) + '\n{"nodeId":"n1","rev":');
    const j = new OutcomeJournal(dir, etcd as unknown as NodeFirings, systemClock, silentLogger, new Metrics(), () => undefined);
    j.start();
    await waitFor(() => j.size === 0, 'the readable line committed', 5_000);
    expect(etcd.records.get('f-1000-1')?.exitCode).to.equal(1);
    expect(existsSync(join(dir, 'outcomes.journal'))).to.equal(true);
    j.stop();
  });
});
