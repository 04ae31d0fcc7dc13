import { expect } from 'chai';
import { TaskIndex } from '../../src/service/task-index.js';
import type { TaskFeedConsumer } from '../../src/store/task-feed.js';
import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';
import { silentLogger } from '../../src/log.js';
import { FakeClock } from '../support/fake-clock.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

function task(id: string, name: string, over: Partial<Task> = {}): Task {
  return { id, tenant: 't', name, enabled: true, schedule: { manual: true }, action: { process: { command: 'true', env: {} } }, replicas: 1, placement: { strategy: 'least-loaded' }, policies: DEFAULT_POLICIES, createdMs: NOW, updatedMs: NOW, ...over };
}

/** An index over a feed the test plays by hand; `opened` counts the feeds opened, `closed` those closed. */
function indexed(clock = new FakeClock(NOW), idleMs = 60_000) {
  const seen = { opened: 0, closed: 0, to: null as TaskFeedConsumer | null, initial: [] as Task[], fail: '' };
  const index = new TaskIndex(
    async (to) => {
      seen.opened++;
      seen.to = to;
      if (seen.fail) throw new Error(seen.fail);
      to.reset('tasks');
      for (const [i, t] of seen.initial.entries()) to.task(t.id, t, JSON.stringify(t), i + 1);
      to.synced('tasks');
      return { close: async () => void seen.closed++ };
    },
    clock,
    silentLogger,
    idleMs,
  );
  return { index, seen, clock };
}

const names = (r: { items: { task: Task }[] }) => r.items.map((l) => l.task.name);

describe('TaskIndex: the task list from memory', () => {
  it('opens its feed at the first read, lists the tenant\'s tasks with their last outcome and runs in flight', async () => {
    const { index, seen } = indexed();
    seen.initial = [task('1', 'a'), task('2', 'b'), task('3', 'other', { tenant: 'u' })];
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['a', 'b']);
    const to = seen.to!;
    to.run('1', '1/0001-000001', { id: '1-1-1', state: 'failed', endedMs: NOW - 5 });
    to.run('1', '1/0000-000001', { id: '1-0-1', state: 'succeeded', endedMs: NOW - 50 }); // older key: not the last
    to.run('2', '2/0001-000001', { id: '2-1-1', state: 'running' }); // not an outcome
    to.firing('2', '2/0001', { state: 'running', startedMs: NOW - 1 });
    to.firing('1', '1/0009', { state: 'running', startedMs: NOW + 5_000 }); // claimed ahead: not running yet
    const r = await index.list('t', {}, 10, { sort: 'last' });
    expect(r.items.map((l) => [l.task.name, l.lastRun?.state ?? null, l.running])).to.deep.equal([['a', 'failed', 0], ['b', null, 1]]);
    expect(names(await index.list('t', { running: true }, 10, {}))).to.deep.equal(['b']);
    expect(names(await index.list('t', { lastOutcome: ['failed'] }, 10, {}))).to.deep.equal(['a']);
    to.firing('2', '2/0001', null);
    expect((await index.list('t', { running: true }, 10, {})).total).to.equal(0);
    // The last outcome's record deleted (history cleared): no outcome.
    to.run('1', '1/0001-000001', null);
    expect((await index.list('t', {}, 10, {})).items[0]!.lastRun).to.equal(null);
    expect(seen.opened).to.equal(1);
  });

  it('keeps the newest write of a definition by revision: a write of its own node at once, an older event arriving later ignored, a delete not undone by an older put', async () => {
    const { index, seen } = indexed();
    seen.initial = [task('1', 'a')];
    await index.list('t', {}, 10, {});
    const to = seen.to!;
    index.written('1', task('1', 'a-renamed'), JSON.stringify(task('1', 'a-renamed')), 10);
    to.task('1', task('1', 'a-stale'), JSON.stringify(task('1', 'a-stale')), 5); // the watch, behind
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['a-renamed']);
    index.written('1', null, '', 12);
    to.task('1', task('1', 'a-renamed'), '{}', 10); // its own put coming by the watch after the delete
    expect((await index.list('t', {}, 10, {})).total).to.equal(0);
    to.task('1', task('1', 'again'), JSON.stringify(task('1', 'again')), 13);
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['again']);
  });

  it('pages by cursor in id order and by offset in any order, with the total matching the filter', async () => {
    const { index, seen } = indexed();
    seen.initial = ['e', 'd', 'c', 'b', 'a'].map((n, i) => task(String(i + 1), n));
    const p1 = await index.list('t', {}, 2, {});
    expect([names(p1), p1.next, p1.total]).to.deep.equal([['e', 'd'], '2', 5]);
    const p2 = await index.list('t', {}, 2, { after: p1.next! });
    expect(names(p2)).to.deep.equal(['c', 'b']);
    expect(names(await index.list('t', {}, 2, { sort: 'name', offset: 1 }))).to.deep.equal(['b', 'c']);
  });

  it('a feed that failed to open is opened again by the next read; one closed (idle or stopped) changes nothing any more', async () => {
    const { index, seen } = indexed();
    seen.initial = [task('1', 'a')];
    seen.fail = 'etcd away';
    let err: Error | null = null;
    await index.list('t', {}, 10, {}).catch((e: Error) => (err = e));
    expect(err!.message).to.equal('etcd away');
    seen.fail = '';
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['a']);
    const old = seen.to!;
    await index.stop(false); // as when idle
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['a']);
    // The closed feed's late events go nowhere.
    old.task('2', task('2', 'from-a-closed-feed'), JSON.stringify(task('2', 'x')), 99);
    old.reset('tasks');
    expect(names(await index.list('t', {}, 10, {}))).to.deep.equal(['a']);
    expect(seen.opened).to.equal(3);
    // Stopped for good (the node stops): no read opens it again.
    await index.stop();
    const refused = await index.list('t', {}, 10, {}).then(() => null, (e: Error) => e.message);
    expect(refused).to.equal('this node is stopping');
    expect(seen.opened).to.equal(3);
  });

  it('a re-listing (after a compaction) holds reads until it is whole, then answers from it', async () => {
    const { index, seen } = indexed();
    seen.initial = [task('1', 'a'), task('2', 'b')];
    await index.list('t', {}, 10, {});
    const to = seen.to!;
    to.reset('tasks');
    to.task('1', task('1', 'a'), JSON.stringify(task('1', 'a')), 1);
    let answered: string[] | null = null;
    const reading = index.list('t', {}, 10, {}).then((r) => (answered = names(r)));
    await new Promise((r) => setImmediate(r)); // a read that did not wait would have answered by now
    expect(answered, 'no half list').to.equal(null);
    to.task('2', task('2', 'b'), JSON.stringify(task('2', 'b')), 2);
    to.synced('tasks');
    await reading;
    expect(answered).to.deep.equal(['a', 'b']);
  });

  it('keeps no run or firing of a task it does not list (a late record of a deleted one)', async () => {
    const { index, seen } = indexed();
    seen.initial = [task('1', 'a')];
    await index.list('t', {}, 10, {});
    const to = seen.to!;
    index.written('1', null, '', 50);
    to.run('1', '1/0001-000001', { id: '1-1-1', state: 'failed', endedMs: NOW });
    to.firing('1', '1/0002', { state: 'running', startedMs: NOW });
    to.task('1', null, '', 50); // the watch comes to the delete: the tombstone goes
    index.written('3', task('3', 'c'), JSON.stringify(task('3', 'c')), 60);
    const r = await index.list('t', {}, 10, {});
    expect(names(r)).to.deep.equal(['c']);
    expect(r.items[0]!.lastRun).to.equal(null);
  });

  it('closes its feed after idleMs without a read, and opens it again at the next', async () => {
    const { index, seen, clock } = indexed(new FakeClock(NOW), 60_000);
    await index.list('t', {}, 10, {});
    await clock.advance(30_000);
    await index.list('t', {}, 10, {}); // a read keeps it open
    await clock.advance(45_000);
    expect(seen.closed).to.equal(0);
    await clock.advance(20_000);
    expect(seen.closed).to.equal(1);
    await index.list('t', {}, 10, {});
    expect(seen.opened).to.equal(2);
    await index.stop();
    expect(seen.closed).to.equal(2);
  });
});
