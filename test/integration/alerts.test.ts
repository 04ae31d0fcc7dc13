import { expect } from 'chai';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { Receiver } from '../support/receiver.js';
import { scripted } from '../support/scripted.js';
import { failureStreak } from '../../src/domain/alerts.js';
import { WebhookSender } from '../../src/lib/webhook.js';
import { systemClock } from '../../src/domain/clock.js';
import { silentLogger } from '../../src/log.js';
import type { RotaNode } from '../../src/node.js';
import type { Run } from '../../src/domain/task.js';

describe('failure alerts', function () {
  this.timeout(60_000);

  it('a streak is the failures since the newest success, named by its oldest run', () => {
    const r = (id: string, state: Run['state'], endedMs: number): Run => ({ id, taskId: '1', tenant: 't', scheduledMs: endedMs - 10, attempt: 1, trigger: 'schedule', state, endedMs });
    expect(failureStreak([])).to.deep.equal({ length: 0 });
    expect(failureStreak([r('a', 'failed', 1), r('b', 'succeeded', 2)])).to.deep.equal({ length: 0 });
    const s = failureStreak([r('a', 'succeeded', 1), r('b', 'failed', 2), r('c', 'skipped', 3), r('d', 'lost', 4), r('e', 'killed', 5), r('f', 'expired', 6)]);
    expect(s.length).to.equal(3);
    expect(s.firstRunId).to.equal('b');
    expect(s.lastRun!.id).to.equal('f');
  });

  it('webhook deliveries are retried with backoff until the receiver takes them, and given up after the limit', async () => {
    const hook = await scripted([500, 503, 200]);
    const dead = await scripted([500, 500, 500, 500]);
    const sender = new WebhookSender(systemClock, silentLogger, { maxAttempts: 3, initialBackoffMs: 20, maxBackoffMs: 100, timeoutMs: 2000, maxQueued: 10 });
    const outcomes: (number | null)[] = [];
    sender.send({ url: hook.url, body: { n: 1 }, what: 'test', done: (a) => outcomes.push(a) });
    sender.send({ url: dead.url, body: { n: 2 }, what: 'test', done: (a) => outcomes.push(a) });
    expect(sender.queued).to.equal(2); // the caller did not wait
    await waitFor(() => outcomes.length === 2, 'both deliveries decided');
    expect(outcomes.sort()).to.deep.equal([3, null]);
    expect(hook.bodies).to.deep.equal([{ n: 1 }]);
    expect(dead.attempts()).to.equal(3);
    sender.close();
    await hook.close();
    await dead.close();
  });

  describe('on a real node', () => {
    let node: RotaNode;
    let rx: Receiver;
    let hook: Awaited<ReturnType<typeof scripted>>;

    beforeEach(async () => {
      const { endpoint, prefix } = await freshEtcd();
      rx = await new Receiver().start();
      hook = await scripted([502]); // the first delivery fails once: retried
      node = await startNode(endpoint, prefix, { alerts: { webhookUrl: hook.url } });
    });
    afterEach(async () => {
      await node.stop();
      await rx.stop();
      await hook.close();
    });

    it('raises one alert per streak of N failures in a row: audit event, metric, webhook', async () => {
      const s = node.service;
      const me = { tenant: 'default' };
      const t = await s.create(me, { name: 'flaky', schedule: { manual: true }, action: { http: { url: `${rx.url}/flaky` } }, policies: { alertAfterFailures: 2 } });
      const finished = async () => (await s.listRuns(me, t.id, 100)).items.filter((r) => r.state === 'succeeded' || r.state === 'failed').length;
      const fire = async (status: number) => {
        rx.status = status;
        const before = await finished();
        await s.trigger(me, t.id);
        await waitFor(async () => (await finished()) === before + 1, 'the run to end');
      };
      const alerts = async () => (await s.history.events('default')).filter((e) => e.action === 'alert');

      await fire(500);
      expect(await alerts()).to.have.length(0);
      await fire(500);
      await waitFor(async () => (await alerts()).length === 1, 'the first alert');
      await fire(500); // the same streak goes on: no second alert
      await fire(200); // a success ends it
      await fire(500);
      await fire(500);
      await waitFor(async () => (await alerts()).length === 2, 'the second streak alerted');
      await fire(500);

      const events = await alerts();
      expect(events).to.have.length(2);
      expect(events[0]).to.include({ taskId: t.id, taskName: 'flaky' });
      expect(events[0]!.detail).to.include({ failures: 2, threshold: 2, state: 'failed' });
      await waitFor(() => hook.bodies.length === 2, 'both alerts delivered (the first after a retry)');
      expect(hook.bodies.map((b) => (b as { taskName: string; failures: number }).failures)).to.deep.equal([2, 2]);
      expect(hook.bodies[0]).to.include({ event: 'alert', taskId: t.id, taskName: 'flaky', threshold: 2, state: 'failed' });
      const metrics = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
      expect(metrics).to.match(/^rota_alerts_total 2$/m);
    });
  });
});
