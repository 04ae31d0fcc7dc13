import { expect } from 'chai';
import { Leader } from '../../src/scheduler/leader.js';
import { NodeSession } from '../../src/store/session.js';
import { campaign } from '../../src/store/election.js';
import { TaskStore } from '../../src/store/task-store.js';
import { FiringStore } from '../../src/store/firing-store.js';
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
      const firings = new FiringStore(h);
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
      await waitFor(() => clock.nextTimer() === at10 + 10_000 - 1500, 'the timer armed for :20');

      await clock.advance(10_000);
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
      await new Promise((r) => setTimeout(r, 200));
      expect(await firings.firingsOf(task.id), 'a paused task is not planned').to.deep.equal([]);
    } finally {
      lost.abort();
      await session.close();
      await leaderRun;
      h.close();
    }
  });
});
