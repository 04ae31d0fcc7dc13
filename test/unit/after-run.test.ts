import { expect } from 'chai';
import { afterRun, sameClaim, type AttemptEnd } from '../../src/domain/firing-transitions.js';
import type { Firing } from '../../src/domain/firing.js';
import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';
import { T0, aTask } from '../support/task.js';

const NOW = T0;
const task = (over: Partial<Task> = {}): Task =>
  aTask({ schedule: { cron: '* * * * *', tz: 'UTC' }, action: { process: { command: 'true', env: {} } }, policies: { ...structuredClone(DEFAULT_POLICIES), retry: { delaysMs: [1000] } }, createdMs: NOW, updatedMs: NOW, ...over });
const daemon = task({ schedule: { daemon: true } });
const running: Firing = { taskId: 't1', tenant: 'acme', scheduledMs: NOW, attempt: 1, trigger: 'schedule', state: 'running', node: 'n1', lease: 'L', dueMs: NOW, startedMs: NOW };
const end = (over: Partial<AttemptEnd>): AttemptEnd => ({ state: 'succeeded', endedMs: NOW + 5000, upMs: 5000, quickExits: 0, accepting: true, alive: true, ...over });

/** The node's decision after an attempt ends, beside the leader's repair decision (repair.test.ts). */
describe('afterRun: what a node does with a firing whose attempt has ended', () => {
  const table: [string, Task, Partial<AttemptEnd>, string, Partial<Firing> | null][] = [
    ['succeeded: the firing ends', task(), {}, 'end', null],
    ['failed with a retry left: waits for it, next attempt, no node', task(), { state: 'failed' }, 'end', { state: 'retry-wait', attempt: 2, trigger: 'retry', origin: 'schedule', dueMs: NOW + 6000, node: undefined }],
    ['killed by an operator: ends, no retry', task(), { state: 'killed', reason: 'operator' }, 'end', null],
    ['shutdown: nothing written (the leader marks it lost)', task(), { reason: 'shutdown' }, 'leave', null],
    ['lease lost: nothing written', task(), { reason: 'lease-lost', state: 'killed' }, 'leave', null],
    ['drain: handed back, next attempt, placed elsewhere', daemon, { reason: 'drain', state: 'killed' }, 'hand-back', { state: 'unassigned', attempt: 2, node: undefined, dueMs: NOW + 5000 }],
    ['daemon exit: restarts after its delay, next attempt', daemon, { state: 'failed', exitCode: 3 }, 'restart', { attempt: 2, restarts: 1, lastExitCode: 3, trigger: 'retry' }],
    ['daemon stopped (stop): ends', daemon, { reason: 'stop', state: 'killed' }, 'end', null],
    ['daemon replica restarted by an operator: starts again at once, next attempt, no backoff', daemon, { reason: 'restart', state: 'killed', upMs: 10, quickExits: 4 }, 'restart', { attempt: 2, restarts: 1, backoffMs: 0, trigger: 'retry' }],
    ['a restart asked of a task that is not a daemon: ends', task(), { reason: 'restart', state: 'killed' }, 'end', null],
    ['daemon on a draining node: ends here (the drain hands back what waits)', daemon, { accepting: false }, 'end', null],
    ['daemon failed: never retried as a retry (it restarts)', daemon, { state: 'failed', alive: false }, 'end', null],
  ];
  for (const [name, t, e, kind, next] of table) {
    it(name, () => {
      const r = afterRun(running, t, end(e));
      expect(r.kind).to.equal(kind);
      const got = 'next' in r ? r.next : null;
      if (next === null) expect(got).to.equal(null);
      else expect(got).to.deep.include(next);
    });
  }

  it('a daemon that keeps exiting quickly backs off, doubling; a long run resets it', () => {
    const quick = afterRun(running, daemon, end({ upMs: 10, quickExits: 2 }));
    expect(quick.kind === 'restart' && quick.quickExits).to.equal(3);
    const calm = afterRun(running, daemon, end({ upMs: 3_600_000, quickExits: 5 }));
    expect(calm.kind === 'restart' && calm.quickExits).to.equal(0);
    expect(quick.kind === 'restart' && calm.kind === 'restart' && quick.delayMs > calm.delayMs).to.equal(true);
  });
});

describe('sameClaim: whether a stored firing is still the attempt a node claimed', () => {
  it('its pid aside, yes; any other change (hands, attempt, state, start) means it is not', () => {
    expect(sameClaim({ ...running, pid: 4242 }, running), 'the node\'s own pid write').to.equal(true);
    expect(sameClaim(running, { ...running, pid: 7 })).to.equal(true);
    for (const other of [{ node: 'n2', lease: 'M' }, { attempt: 2 }, { state: 'retry-wait' as const }, { startedMs: NOW + 1 }]) {
      expect(sameClaim({ ...running, ...other, pid: 4242 }, running), JSON.stringify(other)).to.equal(false);
    }
  });
});
