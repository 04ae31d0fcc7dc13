import { expect } from 'chai';
import { planReplicas } from '../../src/domain/replicas.js';
import type { Firing } from '../../src/domain/firing.js';
import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';

const NOW = 1_800_000_000_000;

function task(over: Partial<Task> = {}): Task {
  return {
    id: '3', tenant: 't', name: 'job', enabled: true, schedule: { cron: '* * * * * *', tz: 'UTC' }, action: { http: { url: 'http://127.0.0.1:1/', method: 'POST', headers: {} } },
    replicas: 1, placement: { strategy: 'least-loaded' }, policies: DEFAULT_POLICIES, createdMs: NOW - 9000, updatedMs: NOW - 9000, ...over,
  };
}

const held = (over: Partial<Firing>, modRevision = 1) => ({
  value: { taskId: '3', tenant: 't', scheduledMs: NOW + 500, attempt: 1, trigger: 'schedule', state: 'assigned', node: 'n1', lease: 'L1', dueMs: NOW + 500, ...over } as Firing,
  modRevision,
});

describe('planReplicas', () => {
  it('a paused task drops its scheduled firings not yet started and their waiting retries (assigned, retry-wait: dropped; claimed ahead: killed) and keeps the rest (manual triggers and their retries run when paused)', () => {
    const assigned = held({});
    const claimedAhead = held({ state: 'running', startedMs: NOW + 500, scheduledMs: NOW + 400 });
    const started = held({ state: 'running', startedMs: NOW - 100, scheduledMs: NOW - 100 });
    const manual = held({ trigger: 'manual', scheduledMs: NOW + 1 });
    const retry = held({ state: 'retry-wait', trigger: 'retry', origin: 'schedule', attempt: 2, node: undefined, lease: undefined });
    const manualRetry = held({ state: 'retry-wait', trigger: 'retry', origin: 'manual', attempt: 2, node: undefined, lease: undefined, scheduledMs: NOW + 2 });
    const paused = planReplicas(task({ enabled: false }), [assigned, claimedAhead, started, manual, retry, manualRetry], NOW);
    expect(paused.drop).to.deep.equal([assigned, retry]);
    expect(paused.kill).to.deep.equal([claimedAhead]);
    expect(paused.create).to.deep.equal([]);
    const enabled = planReplicas(task(), [assigned, claimedAhead, started], NOW);
    expect(enabled).to.deep.equal({ create: [], kill: [], drop: [] });
  });

  it('a deleted task retires every firing; a daemon keeps one firing per replica of its generation', () => {
    const gone = planReplicas(undefined, [held({}), held({ state: 'running', startedMs: NOW - 1 })], NOW);
    expect(gone.drop).to.have.length(1);
    expect(gone.kill).to.have.length(1);
    const d = task({ schedule: { daemon: true }, replicas: 2, updatedMs: NOW - 5000 });
    const r0 = held({ scheduledMs: NOW - 5000, replica: 0, state: 'running', startedMs: NOW - 4000 });
    const old = held({ scheduledMs: NOW - 9000, replica: 1, state: 'running', startedMs: NOW - 8000 });
    const plan = planReplicas(d, [r0, old], NOW);
    expect(plan.kill).to.deep.equal([old]);
    expect(plan.create).to.deep.equal([]); // replica 1 restarts only once its old firing is gone
    expect(planReplicas(d, [r0], NOW).create.map((f) => f.replica)).to.deep.equal([1]);
  });
});
