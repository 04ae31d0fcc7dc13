import { expect } from 'chai';
import { juiceStatus } from '../../src/api/compat/juice/status.js';
import type { Firing } from '../../src/domain/firing.js';
import type { Run } from '../../src/domain/task.js';

const NOW = 1_800_000_000_000;
const firing = (over: Partial<Firing>): Firing => ({ taskId: '7', tenant: '10002', scheduledMs: NOW - 100, replica: 0, attempt: 1, trigger: 'schedule', state: 'unassigned', dueMs: NOW - 100, ...over });
const run = (over: Partial<Run>): Run => ({ id: `7-${NOW - 100}-1`, taskId: '7', tenant: '10002', scheduledMs: NOW - 100, attempt: 1, trigger: 'schedule', state: 'succeeded', ...over });

describe('Juice task status from the firing and the newest run', () => {
  it('maps each state as the table in status.ts says', () => {
    const table: [Firing | null, Run | null, boolean, string][] = [
      [null, null, false, 'NOT_START'], // not planned yet
      [firing({}), null, false, 'NOT_START'], // waiting for a node
      [firing({ state: 'assigned', node: 'n1' }), null, false, 'STAGING'],
      [firing({ state: 'running', node: 'n1', startedMs: NOW + 50 }), null, false, 'STAGING'], // claimed ahead of its instant
      [firing({ state: 'running', node: 'n1', startedMs: NOW - 50 }), null, false, 'RUNNING'],
      [null, run({ startedMs: NOW - 90 }), false, 'FINISHED'],
      [null, run({ state: 'failed', startedMs: NOW - 90 }), false, 'FAILED'],
      [null, run({ state: 'failed' }), false, 'ERROR'],
      [null, run({ state: 'lost', startedMs: NOW - 90 }), false, 'LOST'],
      [null, run({ state: 'killed', startedMs: NOW - 90 }), true, 'KILLED'],
      [null, run({ state: 'skipped' }), true, 'KILLED'], // dropped before it started: the kill paused it
      [null, run({ state: 'skipped' }), false, 'DROPPED'],
      [null, run({ state: 'expired' }), false, 'EXPIRED'],
      // Killed before the leader had planned it: paused, so it never will be.
      [null, null, true, 'KILLED'],
    ];
    for (const [f, r, paused, want] of table) expect(juiceStatus(f, r, NOW, paused), JSON.stringify({ f, r, paused })).to.equal(want);
  });
});
