import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { tempDir } from '../support/tmp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RotaNode } from '../../src/node.js';

/** What a call answered: its status and JSON body (null when the body is not JSON). */
const call = (node: RotaNode, method: string, path: string, body?: unknown): Promise<Reply> => request(node, method, path, { body, timeoutMs: 30_000 });

/**
 * etcd unreachable for 30 s (every connection of the node's cut through a TCP proxy, as a lost
 * link or a cluster without quorum looks to a node): every API answers 503 in its own envelope
 * and says etcd is the reason (reads included: none says "not found"), /readyz says why, runs
 * that ended meanwhile are recorded afterwards with their real exit codes, once, and the node
 * comes back by itself.
 */
describe('etcd unreachable for 30 s (integration, every connection cut through a TCP proxy)', function () {
  this.timeout(180_000);
  let node: RotaNode;
  let proxy: TcpProxy;

  before(async () => {
    const { endpoint, prefix } = await freshEtcd();
    proxy = await new TcpProxy(Number(new URL(endpoint).port)).start();
    node = await startNode(endpoint.replace(/:\d+$/, `:${proxy.port}`), prefix);
  });
  after(async () => {
    proxy.heal();
    await node.stop().catch(() => undefined);
    await proxy.stop();
  });

  it('every dialect answers 503 saying etcd is away, /readyz says why, runs ended meanwhile are recorded with their exit codes once, and the node recovers', async () => {
    const me = { tenant: 'default' };
    // The runs end when told (a file appears), not after a fixed time: on a loaded machine a
    // `sleep 1` could end before the cut and commit normally.
    const go = join(tempDir('rota-etcd-down-'), 'go');
    const t = await node.service.create(me, { name: 'ends-in-the-outage', schedule: { manual: true }, action: { process: { command: `while [ ! -e ${go} ]; do sleep 0.05; done; exit 3` } } });
    const runs = await Promise.all([0, 1, 2].map(() => node.service.trigger(me, t.id)));
    await waitFor(async () => (await Promise.all(runs.map((r) => node.service.getRun(me, r.runId)))).every((r) => r.state === 'running'), 'the three runs running', 20_000);

    proxy.cut();
    const cutAt = Date.now();
    // The runs end now, in the outage: their outcomes cannot be committed and go to the journal.
    writeFileSync(go, '');
    await waitFor(() => node.agent.inflight().length === 0, "the three runs ended", 20_000);

    const answers: [string, () => Promise<{ status: number; body: any }>, (b: any) => unknown][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      ['native read', () => call(node, 'GET', `/api/v1/tasks/${t.id}`), (b) => b.error.code === 'UNAVAILABLE' && /etcd/.test(b.error.message)],
      ['native run read', () => call(node, 'GET', `/api/v1/runs/${runs[0]!.runId}`), (b) => b.error.code === 'UNAVAILABLE'],
      ['native write', () => call(node, 'POST', '/api/v1/tasks', { name: 'x', schedule: { manual: true }, action: { process: { command: 'true' } } }), (b) => b.error.code === 'UNAVAILABLE'],
      ['proc', () => call(node, 'GET', '/proc'), (b) => /etcd/.test(b.msg)],
      ['crontab', () => call(node, 'POST', '/crontab/query_task_status', { task_list: [{ task_id: Number(t.id) }] }), (b) => b.state === 5 && /etcd/.test(b.msg)],
      ['schedule-api', () => call(node, 'POST', '/get', { identity: 'x' }), (b) => b.error === 1 && /etcd/.test(b.msg)],
      ['juice', () => request(node, 'GET', `/v1/tasks?taskIds=${t.id}`, { headers: { 'X-Tenant-Id': '10002' }, timeoutMs: 30_000 }), (b) => b.status === 503 && /etcd/.test(b.message)],
      ['qschedule', () => call(node, 'GET', '/api2/jobs/x.do'), (b) => b.ret === false && /etcd/.test(b.message)],
      ['qschedule check', () => call(node, 'GET', '/api/check/127.0.0.1.do'), (b) => b.ret === false && /etcd/.test(b.message)],
    ];
    for (const [name, ask, shaped] of answers) {
      const r = await ask();
      expect(r.status, `${name}: ${JSON.stringify(r.body)}`).to.equal(503);
      expect(shaped(r.body), `${name} in its own envelope, saying etcd is the reason: ${JSON.stringify(r.body)}`).to.equal(true);
    }
    const ready = await call(node, 'GET', '/readyz');
    expect(ready.status).to.equal(503);
    expect(ready.body.detail.etcd.reachable).to.equal(false);
    expect(ready.body.detail.etcd.why).to.match(/etcd/);
    const scrape = async () => (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    // The gauges read the last etcd check and the journal: wait for both to say so.
    await waitFor(async () => /^rota_etcd_reachable 0$/m.test(await scrape()), 'rota_etcd_reachable 0', 15_000, 250);
    await waitFor(async () => /^rota_outcomes_pending 3$/m.test(await scrape()), 'the three outcomes journalled', 15_000, 250);

    await new Promise((r) => setTimeout(r, Math.max(0, cutAt + 30_000 - Date.now())));
    proxy.heal();

    await waitFor(async () => (await call(node, 'GET', '/readyz')).status === 200, 'the node ready again by itself', 60_000, 250);
    for (const [name, ask] of answers.slice(0, 2)) expect((await ask()).status, name).to.equal(200);
    // Recorded with their real result (failed, exit 3), each once: no attempt 2 (not taken for lost and retried).
    const records = await waitFor(async () => {
      const page = await node.service.listRuns(me, t.id, 50);
      return page.items.length >= 3 && page.items.every((r) => r.state !== 'running') ? page.items : null;
    }, 'the journalled outcomes committed', 20_000, 200);
    expect(records.map((r) => [r.attempt, r.state, r.exitCode]).sort()).to.deep.equal([[1, 'failed', 3], [1, 'failed', 3], [1, 'failed', 3]]);
    const after = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    expect(after).to.match(/^rota_outcomes_pending 0$/m);
    expect(after).to.match(/^rota_outcomes_journalled_total 3$/m);
  });
});
