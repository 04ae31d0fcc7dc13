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
