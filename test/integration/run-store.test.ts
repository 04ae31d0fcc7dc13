import { expect } from 'chai';
import { freshEtcd } from '../support/etcd.js';
import { RunStore } from '../../src/store/run-store.js';
import { K } from '../../src/store/keys.js';
import type { Firing } from '../../src/domain/firing.js';
import type { Run } from '../../src/domain/task.js';

/**
 * A claim writes no run record: while a node holds a firing, the firing is its attempt's run.
 * The run store reads it so (by id, in a task's pages, in the whole history), over any record
 * of the same attempt left behind (a hand-back's 'skipped'), and not before a node started it.
 */
describe('run store: runs in flight are read from their firings (integration, real etcd)', () => {
  const T = '42';
  const base = Date.UTC(2030, 0, 1);
  const rec = (ms: number, attempt: number, state: Run['state']): Run => ({ id: `${T}-${ms}-${attempt}`, taskId: T, tenant: 't', scheduledMs: ms, attempt, trigger: 'schedule', state, endedMs: ms + 10 });
  const firing = (ms: number, over: Partial<Firing>): Firing => ({ taskId: T, tenant: 't', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'running', node: 'n2', lease: 'abc', dueMs: ms, startedMs: ms, ...over });

  it('by id, in pages and in the whole history; a record of the same attempt gives way; a replica waiting to restart is no run', async () => {
    const { handle: h } = await freshEtcd();
    const runs = new RunStore(h);
    const put = (k: string, v: unknown) => h.ns.put(k).value(JSON.stringify(v)).exec();
    for (let i = 0; i < 6; i++) await put(K.run(T, base + i * 1000, 1), rec(base + i * 1000, 1, 'succeeded'));
    // Second 2: attempt 1 failed, attempt 2 runs now on n2 with a pid.
    await put(K.run(T, base + 2000, 1), rec(base + 2000, 1, 'failed'));
    await put(K.firing(T, base + 2000), firing(base + 2000, { attempt: 2, trigger: 'retry', pid: 4321 }));
    // Second 6: handed back earlier ('skipped' record), claimed again by n3 for the same attempt.
    await put(K.run(T, base + 6000, 1), rec(base + 6000, 1, 'skipped'));
    await put(K.firing(T, base + 6000), firing(base + 6000, { node: 'n3' }));
    // Second 7: claimed, never recorded; second 8: assigned only; second 9: a replica waiting to restart.
    await put(K.firing(T, base + 7000), firing(base + 7000, {}));
    await put(K.firing(T, base + 8000), firing(base + 8000, { state: 'assigned', startedMs: undefined }));
    await put(K.firing(T, base + 9000, 1), firing(base + 9000, { replica: 1, startedMs: undefined, backoffMs: 500, attempt: 3 }));

    expect(await runs.get(`${T}-${base + 2000}-2`)).to.include({ state: 'running', node: 'n2', pid: 4321, attempt: 2, trigger: 'retry' });
    expect(await runs.get(`${T}-${base + 2000}-1`)).to.include({ state: 'failed' });
    expect(await runs.get(`${T}-${base + 6000}-1`)).to.include({ state: 'running', node: 'n3' });
    expect(await runs.get(`${T}-${base + 7000}-1`)).to.include({ state: 'running', startedMs: base + 7000 });
    expect(await runs.get(`${T}-${base + 8000}-1`)).to.equal(null);
    expect(await runs.get(`${T}-${base + 9000}-3-r1`)).to.equal(null);

    const want = [
      [base + 7000, 1, 'running'], [base + 6000, 1, 'running'], [base + 5000, 1, 'succeeded'], [base + 4000, 1, 'succeeded'],
      [base + 3000, 1, 'succeeded'], [base + 2000, 2, 'running'], [base + 2000, 1, 'failed'], [base + 1000, 1, 'succeeded'], [base, 1, 'succeeded'],
    ];
    const shape = (r: Run) => [r.scheduledMs, r.attempt, r.state];
    for (const limit of [1, 2, 3, 4, 100]) {
      const seen: unknown[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const p = await runs.listForTask(T, limit, cursor);
        expect(p.items.length).to.be.at.most(limit);
        seen.push(...p.items.map(shape));
        if (!p.next) break;
        cursor = p.next;
      }
      expect(seen, `pages of ${limit}`).to.deep.equal(want);
    }
    expect((await runs.allForTask(T)).map(shape)).to.deep.equal([...want].reverse());
    // Every task at once (the run log over many tasks): the same runs, in the same order, by task.
    await put(K.run('8', base, 1), { ...rec(base, 1, 'succeeded'), taskId: '8', id: `8-${base}-1` });
    const all = await runs.allByTask();
    expect([...all.keys()].sort()).to.deep.equal(['8', T].sort());
    expect(all.get(T)!.map(shape)).to.deep.equal([...want].reverse());
    expect(all.get('8')!.map(shape)).to.deep.equal([[base, 1, 'succeeded']]);
  });

  it('prune: writes nothing when within bounds; else keeps the newest N, drops the aged, touches no other task', async () => {
    const { handle: h } = await freshEtcd();
    const runs = new RunStore(h);
    const DAY = 86_400_000;
    const now = base + 30 * DAY;
    const put = (id: string, ms: number) => h.ns.put(K.run(id, ms, 1)).value(JSON.stringify({ ...rec(ms, 1, 'succeeded'), taskId: id, id: `${id}-${ms}-1` })).exec();
    // Every write the store makes here is a delete: count them (a delete is a raft proposal even when it finds nothing).
    let deletes = 0;
    const del = h.ns.delete.bind(h.ns);
    h.ns.delete = () => (deletes++, del());
    const left = async (id: string) => (await runs.allForTask(id)).map((r) => r.scheduledMs);
    for (let i = 0; i < 5; i++) await put(T, now - i * 1000);
    for (let i = 0; i < 12; i++) await put(`${T}0`, now - i * 1000); // task 420: a key prefix of 42's neighbour

    expect(await runs.prune(T, 5, 7 * DAY, now)).to.equal(0);
    expect(deletes, 'no write when there is nothing to prune').to.equal(0);

    // Over the count: the two oldest go, the newest five stay.
    await put(T, now + 1000);
    await put(T, now + 2000);
    expect(await runs.prune(T, 5, 7 * DAY, now + 2000)).to.equal(2);
    expect(deletes, 'one range delete').to.equal(1);
    expect(await left(T)).to.deep.equal([now - 2000, now - 1000, now, now + 1000, now + 2000]);

    // Aged: within the count, but older than the max age; with both, the larger cut wins.
    await put(T, now - 10 * DAY);
    expect(await runs.prune(T, 10, 7 * DAY, now)).to.equal(1);
    expect(await left(T)).to.have.length(5);
    await put(T, now - 10 * DAY);
    await put(T, now - 9 * DAY);
    expect(await runs.prune(T, 6, 7 * DAY, now)).to.equal(2);
    expect(await runs.prune(T, 3, 7 * DAY, now + 2000)).to.equal(2);
    expect(await left(T)).to.deep.equal([now, now + 1000, now + 2000]);
    expect(await left(`${T}0`)).to.have.length(12);
    h.close();
  });
});
