import { expect } from 'chai';
import { Leader } from '../../src/scheduler/leader.js';
import { NodeSession } from '../../src/store/session.js';
import { campaign } from '../../src/store/election.js';
import { TaskStore } from '../../src/store/task-store.js';
import { NodeFirings } from '../../src/store/node-firings.js';
import { RunStore } from '../../src/store/run-store.js';
import { systemClock } from '../../src/domain/clock.js';
import { DEFAULT_PLACEMENT, DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { FakeClock } from '../support/fake-clock.js';
import { freshEtcd, waitFor } from '../support/etcd.js';

/**
 * The leader on a clock the test moves: it arms its timer for an instant's write-ahead time,
 * writes the firing when (and only when) that time comes, and drops a paused task's firings.
 * Real etcd underneath; no agent, so the firings stay as the leader wrote them.
 */
describe('leader on a fake clock (integration, real etcd)', function () {
  this.timeout(30_000);

  /**
   * Makes the leader take a step at the fake clock's current instant, and waits for it, instead
   * of sleeping "long enough" before asserting that nothing happened: a task created now with a
   * `now` schedule is due at once, so the step that writes its firing also does everything else
   * due at this instant. The task is then deleted and its firing dropped, leaving nothing behind.
   */
  async function stepNow(tasks: TaskStore, firings: NodeFirings, clock: FakeClock): Promise<void> {
    const now = clock.now();
    const w = await tasks.create(
      {
        tenant: 'witness', name: `step-${now}`, enabled: true, schedule: { now: true },
        action: { http: { url: 'http://127.0.0.1:9/', method: 'POST' } } as Task['action'], replicas: 1,
        placement: DEFAULT_PLACEMENT, policies: DEFAULT_POLICIES, createdMs: now, updatedMs: now,
      },
      now - 1,
    );
    await waitFor(async () => (await firings.firingsOf(w.id)).length === 1, 'the leader to take a step at this instant');
    await tasks.delete((await tasks.get(w.id))!);
    await waitFor(async () => (await firings.firingsOf(w.id)).length === 0, "the step task's firing dropped");
  }

  it('writes each firing at its write-ahead time, not before, and drops them when the task is paused', async () => {
    const { handle: h } = await freshEtcd();
    const t0 = Date.UTC(2031, 0, 1, 0, 0, 1); // 00:00:01; the task fires at :10, :20, ...
    const clock = new FakeClock(t0);
    const session = new NodeSession(h, systemClock, 10, silentLogger); // the lease lives in real time
    const lost = new AbortController();
    let leaderRun: Promise<void> | null = null;
    try {
      await session.start({ id: 'n1', address: '127.0.0.1:1', ip: '127.0.0.1', hostname: 'h', attributes: {}, capacity: 10, state: 'active', version: 't', startedMs: t0 });
      const leadership = await campaign(h, session, 'n1', lost.signal, silentLogger);
      expect(leadership).to.not.equal(null);
      const tasks = new TaskStore(h);
      const firings = new NodeFirings(h);
      const runs = new RunStore(h);
      const draft: Omit<Task, 'id'> = {
        tenant: 'default', name: 'ten', enabled: true, schedule: { cron: '*/10 * * * * *', tz: 'UTC' },
        action: { http: { url: 'http://127.0.0.1:9/', method: 'POST' } } as Task['action'], replicas: 1,
        placement: DEFAULT_PLACEMENT, policies: DEFAULT_POLICIES, createdMs: t0, updatedMs: t0,
      };
      const task = await tasks.create(draft, t0);
      const at10 = t0 + 9_000;
      const leader = new Leader(h, session, leadership!, clock, silentLogger, new Metrics(), { writeAheadMs: 1500 });
      leaderRun = leader.run();

      await waitFor(() => clock.nextTimer() === at10 - 1500, 'the timer armed for the first write-ahead time');
      expect(await firings.firingsOf(task.id)).to.deep.equal([]);
      await clock.advance(at10 - 1501 - t0);
      // Nothing was due: the leader's one timer is still armed for the write-ahead time, unfired.
      expect(clock.nextTimer(), 'the timer has not fired a millisecond early').to.equal(at10 - 1500);
      expect(await firings.firingsOf(task.id)).to.deep.equal([]);

      await clock.advance(1);
      const first = await waitFor(async () => (await firings.firingsOf(task.id))[0], 'the firing of :10');
      expect(first).to.include({ scheduledMs: at10, dueMs: at10, state: 'assigned', node: 'n1', trigger: 'schedule', attempt: 1 });
      // No agent claims it: the leader looks again at its claim deadline (the only node is never
      // silent, so nothing moves), then waits for :20.
      await waitFor(() => clock.nextTimer() === at10 - 500, 'the timer armed for the claim deadline');
      await clock.advance(1000);
      await waitFor(() => clock.nextTimer() === at10 + 10_000 - 1500, 'the timer armed for :20');
      expect(await firings.firingsOf(task.id)).to.deep.include({ ...first });

      await clock.advance(9_000);
      await waitFor(async () => (await firings.firingsOf(task.id)).length === 2, 'the firing of :20');
      expect((await firings.firingsOf(task.id)).map((f) => f.scheduledMs)).to.deep.equal([at10, at10 + 10_000]);

      const cur = (await tasks.get(task.id))!;
      await tasks.replace(cur, { ...cur.value, enabled: false, updatedMs: clock.now() });
      await waitFor(async () => (await firings.firingsOf(task.id)).length === 0, 'the paused task’s firings dropped');
      const recorded = await runs.listForTask(task.id, 10);
      expect(recorded.items.map((r) => [r.scheduledMs, r.state])).to.have.deep.members([
        [at10, 'skipped'],
        [at10 + 10_000, 'skipped'],
      ]);
      await clock.advance(60_000);
      await stepNow(tasks, firings, clock);
      expect(await firings.firingsOf(task.id), 'a paused task is not planned').to.deep.equal([]);
    } finally {
      lost.abort();
      await session.close();
      await leaderRun;
      h.close();
    }
  });

  it('gives no new work to a node that claims nothing and moves its unclaimed firings to one that claims, while its lease lives', async () => {
    const { handle: h } = await freshEtcd();
    const t0 = Date.UTC(2031, 0, 1, 0, 0, 1);
    const clock = new FakeClock(t0);
    // Both leases live in real time for the whole test: only the claims tell the nodes apart.
    const s1 = new NodeSession(h, systemClock, 30, silentLogger); // the leader's node: never claims
    const s2 = new NodeSession(h, systemClock, 30, silentLogger); // the test claims for it
    const lost = new AbortController();
    let leaderRun: Promise<void> | null = null;
    let claiming = true;
    let claimer: Promise<void> | null = null;
    try {
      const rec = (id: string) => ({ id, address: '127.0.0.1:1', ip: '127.0.0.1', hostname: id, attributes: {}, capacity: 100, state: 'active' as const, version: 't', startedMs: t0 });
      await s1.start(rec('n1'));
      await s2.start(rec('n2'));
      const leadership = await campaign(h, s1, 'n1', lost.signal, silentLogger);
      const tasks = new TaskStore(h);
      const firings = new NodeFirings(h);
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const t = await tasks.create(
          {
            tenant: 'default', name: `ten-${i}`, enabled: true, schedule: { cron: '*/10 * * * * *', tz: 'UTC' },
            action: { http: { url: 'http://127.0.0.1:9/', method: 'POST' } } as Task['action'], replicas: 1,
            placement: { ...DEFAULT_PLACEMENT, strategy: 'round-robin' }, policies: DEFAULT_POLICIES, createdMs: t0, updatedMs: t0,
          },
          t0,
        );
        ids.push(t.id);
      }
      const all = async () => (await Promise.all(ids.map((id) => firings.firingsOf(id)))).flat();
      // n2 claims every assignment it is given, as an agent does, at once.
      claimer = (async () => {
        while (claiming) {
          for (const f of await all()) {
            if (f.state !== 'assigned' || f.node !== 'n2') continue;
            const got = await firings.getFiring(f.taskId, f.scheduledMs, f.replica);
            if (got?.firing.state === 'assigned' && got.firing.node === 'n2') await firings.claim('n2', s2.leaseNumeric, got.modRevision, { ...got.firing, state: 'running', startedMs: got.firing.scheduledMs });
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const at10 = t0 + 9_000;
      const leader = new Leader(h, s1, leadership!, clock, silentLogger, new Metrics(), { writeAheadMs: 1500 });
      leaderRun = leader.run();
      await waitFor(() => clock.nextTimer() === at10 - 1500, 'the timer armed for the first write-ahead time');
      await clock.advance(at10 - 1500 - t0);
      await waitFor(async () => (await all()).length === 6, 'the six firings of :10');
      const first = await all();
      expect(first.filter((f) => f.node === 'n1'), 'round-robin gave n1 some').to.not.have.length(0);
      await waitFor(async () => (await all()).filter((f) => f.node === 'n2').every((f) => f.state === 'running'), 'n2 claimed its own');
      expect((await all()).filter((f) => f.node === 'n1').every((f) => f.state === 'assigned'), 'n1 claims nothing').to.equal(true);

      await clock.advance(999); // the claim deadline not reached: nothing moves
      await stepNow(tasks, firings, clock);
      expect(clock.nextTimer(), 'the leader wakes at the claim deadline').to.equal(at10 - 500);
      expect((await all()).filter((f) => f.node === 'n1')).to.have.length(first.filter((f) => f.node === 'n1').length);
      await clock.advance(1); // a second without a claim from n1
      await waitFor(async () => (await all()).every((f) => f.node === 'n2' && f.state === 'running'), "n1's firings moved to n2 and claimed there, before their instant");
      expect(clock.now()).to.be.below(at10);
      expect((await all()).every((f) => f.attempt === 1), 'the same attempt, never started').to.equal(true);

      // The next round goes to n2 alone: n1 is silent, its lease alive.
      await clock.advance(10_000);
      await waitFor(async () => (await all()).filter((f) => f.scheduledMs === at10 + 10_000).length === 6, 'the six firings of :20');
      expect((await all()).filter((f) => f.scheduledMs === at10 + 10_000).map((f) => f.node)).to.deep.equal(['n2', 'n2', 'n2', 'n2', 'n2', 'n2']);
    } finally {
      claiming = false;
      await claimer;
      lost.abort();
      await s2.close();
      await s1.close();
      await leaderRun;
      h.close();
    }
  });
});
