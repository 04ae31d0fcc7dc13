import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { scripted } from '../support/scripted.js';
import type { RotaNode } from '../../src/node.js';
import type { Run } from '../../src/domain/task.js';

/** Task callbacks (task.callback): on start and end, retried while the receiver fails, noted on the run. */
describe('task callbacks (integration, real node)', function () {
  this.timeout(60_000);
  let node: RotaNode;
  const me = { tenant: 'default' };

  beforeEach(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix);
  });
  afterEach(async () => node.stop());

  it('reports the start and the end of a run, retrying a failing receiver, and notes the delivery on the run', async () => {
    const hook = await scripted([503]); // the first report fails once, then is delivered
    try {
      const t = await node.service.create(me, { name: 'reported', schedule: { manual: true }, action: { process: { command: 'sleep 0.5; echo done' } }, callback: { url: hook.url, on: ['start', 'end'] } });
      const { runId } = await node.service.trigger(me, t.id);
      await waitFor(() => hook.bodies.length === 2, 'two reports');
      const [start, end] = hook.bodies as { event: string; taskId: string; taskName: string; run: Run }[];
      expect(start).to.include({ event: 'start', taskId: t.id, taskName: 'reported' });
      expect(start!.run).to.include({ id: runId, state: 'running' });
      expect(end).to.include({ event: 'end', taskId: t.id });
      expect(end!.run).to.include({ id: runId, state: 'succeeded', outputTail: 'done\n' });
      const run = await waitFor(async () => {
        const r = await node.service.getRun(me, runId);
        return r.callbackMs ? r : null;
      }, 'the delivery noted on the run');
      expect(run.callbackMs).to.be.at.least(run.endedMs!);
    } finally {
      await hook.close();
    }
  });

  it('reports the end once per firing: not for an attempt that is retried; Juice format', async () => {
    const hook = await scripted([]);
    try {
      const t = await node.service.create(me, {
        name: 'retried',
        schedule: { manual: true },
        action: { process: { command: 'exit 3' } },
        policies: { retry: { delaysMs: [100] } },
        callback: { url: hook.url, format: 'juice' },
      });
      await node.service.trigger(me, t.id);
      await waitFor(async () => (await node.service.listRuns(me, t.id, 10)).items.filter((r) => r.state === 'failed').length === 2, 'both attempts failed');
      await waitFor(() => hook.bodies.length === 1, 'one report');
      // A report of attempt 1 would have been sent when it ended, before attempt 2 even started:
      // the receiver (answering at once) would hold it already.
      expect(hook.bodies).to.deep.equal([{ taskId: Number(t.id), result: 'FAILED', message: 'exit code 3' }]);
    } finally {
      await hook.close();
    }
  });
});
