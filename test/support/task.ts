import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';

/** The instant the unit tests of scheduling decisions take as now. */
export const T0 = Date.parse('2026-03-01T12:00:00Z');

/** A task firing every second over HTTP, created an hour before T0, with the default policies. */
export function aTask(over: Partial<Task> = {}): Task {
  return {
    id: 't1',
    tenant: 'acme',
    name: 'tick',
    enabled: true,
    schedule: { cron: '* * * * * *', tz: 'UTC' },
    action: { http: { url: 'http://127.0.0.1:9/hook', method: 'POST', headers: {} } },
    replicas: 1,
    placement: { strategy: 'least-loaded' },
    policies: structuredClone(DEFAULT_POLICIES),
    createdMs: T0 - 3_600_000,
    updatedMs: T0 - 3_600_000,
    ...over,
  };
}
