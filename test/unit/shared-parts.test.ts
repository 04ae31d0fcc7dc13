import { expect } from 'chai';
import { SharedParts } from '../../src/scheduler/shared-parts.js';
import type { Task } from '../../src/domain/task.js';

/** A task as the leader parses it from etcd: a fresh object tree each time. */
function parsed(over: Record<string, unknown> = {}): Task {
  return JSON.parse(
    JSON.stringify({
      id: '1',
      tenant: 'default',
      name: 'a',
      enabled: true,
      schedule: { cron: '* * * * * *', tz: 'UTC' },
      action: { http: { url: 'http://127.0.0.1:9/x', method: 'POST', headers: {} } },
      replicas: 1,
      placement: { strategy: 'least-loaded' },
      policies: { overlap: 'allow', misfire: { mode: 'run-all', graceMs: 5000 }, retry: {}, onLost: 'retry' },
      createdMs: 1,
      updatedMs: 1,
      ...over,
    }),
  ) as Task;
}

describe('shared parts of the leader view (scheduler/shared-parts)', () => {
  it('gives equal parts of two tasks as one object, and changes no value', () => {
    const s = new SharedParts();
    const a = s.task(parsed({ id: '1', name: 'a' }));
    const b = s.task(parsed({ id: '2', name: 'b' }));
    expect(b.policies).to.equal(a.policies);
    expect(b.placement).to.equal(a.placement);
    expect(b.schedule).to.equal(a.schedule);
    expect(b.action).to.equal(a.action);
    expect(b.tenant).to.equal(a.tenant);
    expect(b).to.deep.equal(parsed({ id: '2', name: 'b' }));
  });

  it('keeps parts that differ apart, even in one field deep down', () => {
    const s = new SharedParts();
    const a = s.task(parsed());
    const b = s.task(parsed({ policies: { overlap: 'allow', misfire: { mode: 'run-all', graceMs: 5001 }, retry: {}, onLost: 'retry' } }));
    const c = s.task(parsed({ schedule: { cron: '*/2 * * * * *', tz: 'UTC' } }));
    expect(b.policies).to.not.equal(a.policies);
    expect(b.policies.misfire.graceMs).to.equal(5001);
    expect(a.policies.misfire.graceMs).to.equal(5000);
    expect(c.schedule).to.not.equal(a.schedule);
    expect(c.schedule).to.deep.include({ cron: '*/2 * * * * *' });
  });

  it('stays bounded: once full it starts again, and equal parts are shared again from then on', () => {
    const s = new SharedParts(10);
    const first = s.part({ n: 0 });
    for (let i = 1; i <= 20; i++) s.part({ n: i });
    expect(s.part({ n: 0 })).to.not.equal(first); // forgotten when the pool filled
    const again = s.part({ n: 100 });
    expect(s.part({ n: 100 })).to.equal(again);
  });

  it('leaves absent parts absent', () => {
    const s = new SharedParts();
    const t = s.task(parsed());
    expect(t.labels).to.equal(undefined);
    expect(t.callback).to.equal(undefined);
    expect(s.part(undefined)).to.equal(undefined);
  });
});
