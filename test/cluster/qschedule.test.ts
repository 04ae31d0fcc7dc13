import { expect } from 'chai';
import { clusterFixture } from '../support/cluster.js';
import { waitFor } from '../support/etcd.js';

/** qschedule's worker on/off and in-flight check on three node processes (3 etcd members). */
describe('cluster: qschedule workers and /api/check (3 nodes)', function () {
  this.timeout(120_000);
  const f = clusterFixture();

  const q = async (port: number, method: string, path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, ...(body ? { body: JSON.stringify(body) } : {}) });
    return (await r.json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

  it('a worker switched off gets no new firing of that job, on any node\'s say; the others take them all', async () => {
    const { c, rx } = f;
    const t = await c.api('POST', '/api/v1/tasks', { name: 'tick.job', schedule: { cron: '* * * * * *', tz: 'UTC' }, action: { http: { url: `${rx.url}/tick` } }, placement: { strategy: 'round-robin' } });
    expect(t.status).to.equal(201);
    const runsOn = async (sinceMs: number) => ((await c.api('GET', `/api/v1/tasks/${t.body.id}/runs?limit=100`)).body.items as { node: string; scheduledMs: number; state: string }[]).filter((r) => r.scheduledMs > sinceMs && r.state === 'succeeded');
    await waitFor(async () => new Set((await runsOn(0)).map((r) => r.node)).size === 3, 'firings on all three nodes', 30_000, 200);

    const [n1, n2, n3] = c.nodes;
    const addr = (n: typeof n1) => `127.0.0.1:${n!.port}`;
    // Switched off through n1's API: n2 off.
    const off = await q(n1!.port, 'POST', '/api2/workers/state.do', { jobName: 'tick.job', workers: JSON.stringify({ [addr(n2)]: false }) });
    expect(off).to.deep.equal({ ret: true, message: '操作成功' });
    const listed = await q(n3!.port, 'GET', '/api2/workers/tick.job.do');
    expect(listed.data.map((w: { address: string; canSchedule: boolean }) => [w.address, w.canSchedule])).to.deep.equal([[addr(n1), true], [addr(n2), false], [addr(n3), true]]);
    const since = Date.now() + 2000; // firings written ahead before the switch may still run where they were placed
    await waitFor(async () => (await runsOn(since)).length >= 6, 'six firings after the switch', 30_000, 200);
    const nodesAfter = (await runsOn(since)).map((r) => r.node);
    expect(nodesAfter).to.not.include('n2');
    expect(new Set(nodesAfter)).to.deep.equal(new Set(['n1', 'n3']));

    // Never every worker: n1 and n3 off too is refused; n3 off alone leaves n1 with every firing.
    expect(await q(n2!.port, 'POST', '/api2/workers/state.do', { jobName: 'tick.job', workers: JSON.stringify({ [addr(n1)]: false, [addr(n3)]: false }) })).to.deep.equal({ ret: false, message: '所有机器不能全部下线' });
    expect(await q(n2!.port, 'POST', '/api2/workers/state.do', { jobName: 'tick.job', workers: JSON.stringify({ [addr(n3)]: false }) })).to.deep.equal({ ret: true, message: '操作成功' });
    const since2 = Date.now() + 2000;
    await waitFor(async () => (await runsOn(since2)).length >= 4, 'four firings after the second switch', 30_000, 200);
    expect(new Set((await runsOn(since2)).map((r) => r.node))).to.deep.equal(new Set(['n1']));
    expect(rx.duplicates(t.body.id)).to.deep.equal([]);
    await c.api('POST', `/api/v1/tasks/${t.body.id}/pause`);
  });

  it('/api/check lists a long job on the host (by its API address) while it runs there, and not after', async () => {
    const { c } = f;
    const [, n2, n3] = c.nodes;
    const t = await c.api('POST', '/api/v1/tasks', { name: 'long.check', schedule: { manual: true }, action: { process: { command: 'sleep 3' } }, placement: { nodes: ['n2'] } });
    const check = async (port: number, host: string) => (await q(port, 'GET', `/api/check/${host}.do`)).data.map((d: { name: string }) => d.name) as string[];
    const trig = await c.api('POST', `/api/v1/tasks/${t.body.id}/trigger`);
    await waitFor(async () => (await check(n3!.port, `127.0.0.1:${n2!.port}`)).includes('long.check'), 'listed on n2 (asked of n3)', 20_000, 100);
    expect(await check(n2!.port, `127.0.0.1:${n3!.port}`)).to.not.include('long.check');
    expect((await c.api('GET', `/api/v1/runs/${trig.body.runId}`)).body.state).to.equal('running');
    await waitFor(async () => (await c.api('GET', `/api/v1/runs/${trig.body.runId}`)).body.state === 'succeeded', 'the run ended', 20_000, 100);
    expect(await check(n3!.port, `127.0.0.1:${n2!.port}`)).to.not.include('long.check');
  });
});
