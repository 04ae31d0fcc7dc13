import { expect } from 'chai';
import { ClusterView } from '../../src/scheduler/cluster-view.js';
import type { KvEvent } from '../../src/store/watch.js';

const ev = (type: 'put' | 'delete', key: string, value: string, modRevision: number): KvEvent => ({ type, key, value, modRevision, createRevision: 1, lease: '0' });

describe('ClusterView', () => {
  it('never goes back in time: a late watch event older than what the leader recorded is ignored', () => {
    const v = new ClusterView();
    v.cursors.set('7', { value: 3000, modRevision: 50 }); // the leader's own write, recorded at once
    v.apply('cursors', ev('put', 'cursors/7', '2000', 40)); // the previous write, delivered late
    expect(v.cursors.get('7')).to.deep.equal({ value: 3000, modRevision: 50 });
    v.apply('cursors', ev('put', 'cursors/7', '4000', 60));
    expect(v.cursors.get('7')).to.deep.equal({ value: 4000, modRevision: 60 });
    v.apply('cursors', ev('delete', 'cursors/7', '', 55));
    expect(v.cursors.has('7')).to.equal(true);
    v.apply('cursors', ev('delete', 'cursors/7', '', 70));
    expect(v.cursors.has('7')).to.equal(false);
  });

  it('indexes firings per task, replicas included', () => {
    const v = new ClusterView();
    const f = (ms: number, r = 0) => JSON.stringify({ taskId: '9', tenant: 't', scheduledMs: ms, replica: r, attempt: 1, trigger: 'schedule', state: 'running', dueMs: ms });
    v.apply('firings', ev('put', 'firings/9/0001795000000000', f(1_795_000_000_000), 5));
    v.apply('firings', ev('put', 'firings/9/0001795000000000.1', f(1_795_000_000_000, 1), 5));
    v.apply('firings', ev('put', 'firings/90/0001795000000000', f(1_795_000_000_000), 6));
    expect(v.firingsOf('9')).to.have.length(2);
    v.apply('firings', ev('delete', 'firings/9/0001795000000000', '', 7));
    expect(v.firingsOf('9')).to.have.length(1);
    expect(v.tasksWithFirings().sort()).to.deep.equal(['9', '90']);
  });
});

describe('ClusterView indexes', () => {
  const f = (ms: number, state: string, node?: string) => JSON.stringify({ taskId: '4', tenant: 't', scheduledMs: ms, attempt: 1, trigger: 'schedule', state, dueMs: ms, ...(node ? { node, lease: 'L' + node } : {}) });
  const nodeRec = (id: string) => JSON.stringify({ id, lease: 'L' + id, state: 'active', hostname: 'h', ip: '127.0.0.1', attributes: {}, capacity: 10 });

  it('keeps per-node load and the unassigned set as firings move, and rebuilds them on a reset', () => {
    const v = new ClusterView();
    v.apply('nodes', ev('put', 'nodes/a', nodeRec('a'), 1));
    v.apply('nodes', ev('put', 'nodes/b', nodeRec('b'), 2));
    const load = () => Object.fromEntries(v.nodeInfos().map((n) => [n.id, n.load]));
    v.apply('firings', ev('put', 'firings/4/1', f(1, 'unassigned'), 3));
    v.apply('firings', ev('put', 'firings/4/2', f(2, 'assigned', 'a'), 4));
    expect([...v.unassigned]).to.deep.equal(['4/1']);
    expect(load()).to.deep.equal({ a: 1, b: 0 });
    v.apply('firings', ev('put', 'firings/4/1', f(1, 'assigned', 'b'), 5));
    v.apply('firings', ev('put', 'firings/4/2', f(2, 'running', 'a'), 6));
    v.apply('firings', ev('put', 'firings/4/2', f(2, 'assigned', 'b'), 5)); // older: ignored
    expect([...v.unassigned]).to.deep.equal([]);
    expect(load()).to.deep.equal({ a: 1, b: 1 });
    v.apply('firings', ev('delete', 'firings/4/2', '', 7));
    v.apply('firings', ev('put', 'firings/4/1', f(1, 'retry-wait'), 8));
    expect(load()).to.deep.equal({ a: 0, b: 0 });
    expect(v.firingsOf('4')).to.have.length(1);
    v.reset('firings', [{ key: 'firings/4/9', value: f(9, 'running', 'b'), modRevision: 9, createRevision: 9, lease: '0' }, { key: 'firings/4/8', value: f(8, 'unassigned'), modRevision: 9, createRevision: 9, lease: '0' }]);
    expect(load()).to.deep.equal({ a: 0, b: 1 });
    expect([...v.unassigned]).to.deep.equal(['4/8']);
  });
});
