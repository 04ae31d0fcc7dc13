import { expect } from 'chai';
import { freshEtcd } from '../support/etcd.js';
import { RunStore } from '../../src/store/run-store.js';
import { EventStore } from '../../src/store/event-store.js';
import { TaskStore } from '../../src/store/task-store.js';
import { sweep } from '../../src/scheduler/janitor.js';
import { K } from '../../src/store/keys.js';
import { silentLogger } from '../../src/log.js';
import { DEFAULT_PLACEMENT, DEFAULT_POLICIES, type Run, type Task } from '../../src/domain/task.js';

const DAY = 24 * 3600_000;

function run(taskId: string, ms: number): Run {
  return { id: `${taskId}-${ms}-1`, taskId, tenant: 't', scheduledMs: ms, attempt: 1, trigger: 'schedule', state: 'succeeded' };
}

describe('history bounds (integration, real etcd)', () => {
  it('keeps the newest N runs per task, drops older than the max age, and the runs of deleted tasks', async () => {
    const { handle: h } = await freshEtcd();
    const tasks = new TaskStore(h);
    const now = Date.now();
    const base: Omit<Task, 'id'> = {
      tenant: 't', name: 'kept', enabled: true, schedule: { manual: true }, action: { http: { url: 'http://127.0.0.1:1/', method: 'POST', headers: {} } },
      replicas: 1, placement: DEFAULT_PLACEMENT, policies: DEFAULT_POLICIES, createdMs: now, updatedMs: now,
    };
    const kept = await tasks.create(base, now);
    // 30 recent runs and 5 ancient ones for a live task; 4 runs of a task that no longer exists.
    for (let i = 0; i < 30; i++) await h.ns.put(K.run(kept.id, now - i * 1000, 1)).value(JSON.stringify(run(kept.id, now - i * 1000))).exec();
    for (let i = 0; i < 5; i++) await h.ns.put(K.run(kept.id, now - 30 * DAY - i, 1)).value(JSON.stringify(run(kept.id, now - 30 * DAY - i))).exec();
    for (let i = 0; i < 4; i++) await h.ns.put(K.run('999', now - i, 1)).value(JSON.stringify(run('999', now - i))).exec();
    const events = new EventStore(h);
    for (let i = 0; i < 12; i++) await events.append({ tenant: 't', atMs: now - i, action: 'update', taskId: kept.id });
    await events.append({ tenant: 't', atMs: now - 60 * DAY, action: 'create', taskId: kept.id });

    const runs = new RunStore(h);
    const pruned = await sweep({ runs, events, tasks }, { runsKeep: 10, runsMaxAgeMs: 7 * DAY, eventsKeep: 5, eventsMaxAgeMs: 30 * DAY }, { now: () => now, sleep: async () => undefined, timeout: () => () => undefined }, silentLogger);

    const left = await runs.listForTask(kept.id, 100);
    expect(left.items).to.have.length(10);
    expect(left.items[0]!.scheduledMs).to.equal(now); // the newest survive
    expect(left.items.every((r) => r.scheduledMs > now - 7 * DAY)).to.equal(true);
    expect((await runs.listForTask('999', 100)).items).to.deep.equal([]);
    const ev = await events.list('t', 100);
    expect(ev.items).to.have.length(5);
    expect(ev.items.every((e) => e.atMs > now - 30 * DAY)).to.equal(true);
    expect(pruned.runs).to.equal(25);
    h.close();
  });
});
