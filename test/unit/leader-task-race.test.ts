import { expect } from 'chai';
import { ReplicaKeeper } from '../../src/scheduler/replica-keeper.js';
import { FiringRepairs } from '../../src/scheduler/firing-repairs.js';
import { LeaderState } from '../../src/scheduler/leader-state.js';
import { LeaderWork } from '../../src/scheduler/work.js';
import { ClusterView } from '../../src/scheduler/cluster-view.js';
import { Metrics } from '../../src/metrics.js';
import { silentLogger } from '../../src/log.js';
import { K } from '../../src/store/keys.js';
import { DEFAULT_POLICIES, type Task } from '../../src/domain/task.js';
import type { Firing } from '../../src/domain/firing.js';
import type { KvEvent } from '../../src/store/watch.js';

const NOW = 1_800_000_000_000;
const TASK: Task = {
  id: '3', tenant: 'default', name: 'rpc', enabled: true, schedule: { manual: true }, action: { process: { command: 'true', env: {} } },
  replicas: 1, placement: { strategy: 'least-loaded' }, policies: DEFAULT_POLICIES, createdMs: NOW - 100, updatedMs: NOW - 100,
};
// What a manual trigger writes: assigned to the one node, due at once.
const FIRING: Firing = { taskId: '3', tenant: 'default', scheduledMs: NOW - 20, replica: 0, attempt: 1, trigger: 'manual', state: 'assigned', dueMs: NOW, node: 'n1', lease: 'L1' };

const put = (key: string, value: unknown, modRevision: number): KvEvent => ({ type: 'put', key, value: JSON.stringify(value), modRevision, createRevision: modRevision, lease: '0' });

/**
 * A leader whose firings watch has delivered a triggered firing while its tasks watch has not yet
 * delivered the task (two watches, either order). Its stores are faked: `stored` is what etcd
 * holds of the task, `moves` what the leader wrote.
 */
function leader(stored: Task | null | Error) {
  const view = new ClusterView(() => NOW);
  view.apply('nodes', put(K.nodes + 'n1', { id: 'n1', address: '127.0.0.1:1', lease: 'L1', state: 'active', capacity: 10, attributes: {}, startedMs: NOW - 60_000 }, 2));
  view.apply('firings', put(K.firing('3', FIRING.scheduledMs), FIRING, 9));
  const moves: { prev: Firing; next: Firing | null }[] = [];
  const reads: string[] = [];
  const store = {
    readTask: async (id: string) => {
      reads.push(id);
      if (stored instanceof Error) throw stored;
      return stored;
    },
    transition: async (_fence: unknown, prev: { firing: Firing }, next: Firing | null) => (moves.push({ prev: prev.firing, next }), 'ok'),
    transitionMany: async (_fence: unknown, items: { prev: { firing: Firing }; next: Firing | null }[]) => items.map((i) => (moves.push({ prev: i.prev.firing, next: i.next }), 'ok')),
  };
  // The real class's methods (task(), planContext(), silent(), canWrite()) over these parts.
  const s = Object.assign(Object.create(LeaderState.prototype) as object, {
    view, store, work: new LeaderWork(), metrics: new Metrics(), log: silentLogger, clock: { now: () => NOW },
    session: { alive: () => true }, leadership: { lost: { aborted: false }, fence: { key: 'election/x', createRevision: 1 } },
    turn: { n: 0 }, random: () => 0, journalled: () => false, runEnded: () => undefined, stopped: false, candidates: null,
  }) as unknown as LeaderState;
  return { s, moves, reads };
}

describe('a firing that reaches the leader before its task does', () => {
  it('is not taken for a deleted task\'s by the replica keeper while etcd holds the task; it is once etcd does not', async () => {
    const race = leader(TASK);
    await new ReplicaKeeper(race.s).keep(['3']);
    expect(race.reads, 'the task the view lacks, read from etcd').to.deep.equal(['3']);
    expect(race.moves, 'the firing kept').to.deep.equal([]);

    const gone = leader(null);
    await new ReplicaKeeper(gone.s).keep(['3']);
    expect(gone.moves.map((m) => m.next), 'a deleted task\'s firing that never started: dropped').to.deep.equal([null]);
  });

  it('is not dropped by the repair while etcd holds the task; it is once etcd does not', async () => {
    const race = leader(TASK);
    race.s.work.firings.add(K.firingId('3', FIRING.scheduledMs));
    await new FiringRepairs(race.s).repair();
    expect(race.reads).to.deep.equal(['3']);
    expect(race.moves).to.deep.equal([]);

    const gone = leader(null);
    gone.s.work.firings.add(K.firingId('3', FIRING.scheduledMs));
    await new FiringRepairs(gone.s).repair();
    expect(gone.moves.map((m) => m.next)).to.deep.equal([null]);
  });

  it("is left as it is while etcd cannot say whether the task exists (the repair looks at it again; the keeper at the task's or the firing's next event)", async () => {
    const down = () => leader(new Error('etcd unavailable'));
    const keeper = down();
    await new ReplicaKeeper(keeper.s).keep(['3']);
    expect(keeper.moves).to.deep.equal([]);

    const repair = down();
    repair.s.work.firings.add(K.firingId('3', FIRING.scheduledMs));
    await new FiringRepairs(repair.s).repair();
    expect(repair.moves).to.deep.equal([]);
    expect(repair.s.work.nextDue(), 'the repair due again').to.be.a('number');
  });

  it('is a deleted task\'s without asking etcd when the tasks watch delivered the deletion', async () => {
    const gone = leader(new Error('etcd must not be asked'));
    gone.s.view.apply('tasks', { type: 'delete', key: K.task('3'), value: '', modRevision: 12, createRevision: 0, lease: '0' });
    await new ReplicaKeeper(gone.s).keep(['3']);
    expect(gone.reads).to.deep.equal([]);
    expect(gone.moves.map((m) => m.next)).to.deep.equal([null]);
  });
});
