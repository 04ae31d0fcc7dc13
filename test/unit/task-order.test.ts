import { expect } from 'chai';
import { orderTasks, type LastOutcome } from '../../src/domain/task-order.js';
import type { Schedule } from '../../src/domain/task.js';

describe('orderTasks: a task list by id, name, next firing or last outcome', () => {
  const now = Date.UTC(2026, 0, 5, 10, 0, 0);
  const t = (id: string, name: string, schedule: Schedule, enabled = true) => ({ id, name, enabled, schedule, createdMs: now - 1000 });
  const tasks = [
    t('10', 'b-hourly', { cron: '0 0 * * * *', tz: 'UTC' }),
    t('2', 'a-minutely', { cron: '0 * * * * *', tz: 'UTC' }),
    t('3', 'c-paused', { cron: '* * * * * *', tz: 'UTC' }, false),
    t('4', 'd-manual', { manual: true }),
    t('5', 'e-every-30s', { everyMs: 30_000 }),
    t('6', 'a-also-minutely', { cron: '0 * * * * *', tz: 'UTC' }),
  ];
  it('by id: numerically (10 after 6)', () => expect(orderTasks(tasks, 'id', now).map((x) => x.id)).to.deep.equal(['2', '3', '4', '5', '6', '10']));
  it('by name, then id', () => expect(orderTasks(tasks, 'name', now).map((x) => x.name)).to.deep.equal(['a-also-minutely', 'a-minutely', 'b-hourly', 'c-paused', 'd-manual', 'e-every-30s']));
  it('by next firing: the soonest first, ties by name; tasks that will not fire (paused, manual) last, by name', () =>
    expect(orderTasks(tasks, 'next', now).map((x) => x.name)).to.deep.equal(['e-every-30s', 'a-also-minutely', 'a-minutely', 'b-hourly', 'c-paused', 'd-manual']));
  it('by last outcome: failing states first, then skipped, then succeeded, newest first within each, never run last (by name)', () => {
    const last: Record<string, LastOutcome> = {
      '10': { runId: 'x', state: 'succeeded', endedMs: now - 10 },
      '2': { runId: 'x', state: 'killed', endedMs: now - 500 },
      '3': { runId: 'x', state: 'expired', endedMs: now - 100 },
      '5': { runId: 'x', state: 'skipped', endedMs: now - 1 },
    };
    expect(orderTasks(tasks, 'last', now, { lastOf: (id) => last[id] }).map((x) => x.id)).to.deep.equal(['3', '2', '5', '10', '6', '4']);
  });
  it('by next firing with a cache that answers for the schedule', () =>
    expect(orderTasks(tasks, 'next', now, { nextOf: (id) => (id === '4' ? now : null) }).map((x) => x.id)).to.deep.equal(['4', '6', '2', '10', '3', '5']));
});
