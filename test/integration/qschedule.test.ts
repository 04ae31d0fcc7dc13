import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../support/tmp.js';
import { waitFor } from '../support/etcd.js';
import { freshPrefixAndReceiver, startNode, stopAfterTest } from '../support/node.js';
import type { Receiver } from '../support/receiver.js';
import type { RotaNode } from '../../src/node.js';
import { DEFAULTS } from '../../src/config.js';
import type { EtcdHandle } from '../../src/store/etcd.js';

const run = promisify(execFile);

/**
 * The qschedule dialect (/api2/*, /api/check/$ip.do) against real nodes: real etcd, scheduler,
 * agent, processes and callbacks. Apps are tenants: tokens tqa -> appa, tqb -> appb.
 */
describe('qschedule dialect /api2/* and /api/check (integration, real etcd)', function () {
  this.timeout(60_000);
  const TOKENS = { tqa: 'appa', tqb: 'appb' };
  const nodes: RotaNode[] = [];
  let endpoint = '';
  let prefix = '';
  let h: EtcdHandle;
  let rx: Receiver;

  async function node(id = 'n1', workerAddresses?: string[]): Promise<RotaNode> {
    const n = await startNode(endpoint, prefix, { auth: { tokens: TOKENS, required: 'auto', operators: ['default'] }, ...(workerAddresses ? { node: { ...DEFAULTS.node, id, workerAddresses } } : {}) }, id);
    nodes.push(n);
    return n;
  }

  /** A qschedule call; `token` goes in Q-Server-Token (null: none). */
  async function q(n: RotaNode, method: string, path: string, body?: unknown, token: string | null = 'tqa', raw?: string): Promise<Reply> {
    return request(n, method, path, { body, ...(raw !== undefined ? { raw } : {}), headers: token ? { 'Q-Server-Token': token } : {} });
  }

  /** A job made as the document says jobs are: by the app's client, here the native API under its token. */
  async function job(n: RotaNode, body: Record<string, unknown>, token = 'tqa'): Promise<{ id: string; name: string }> {
    const r = await fetch(`http://127.0.0.1:${n.port}/api/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(r.status, await r.clone().text()).to.equal(201);
    return (await r.json()) as { id: string; name: string };
  }

  const native = async (n: RotaNode, path: string, token = 'tqa') => (await (await fetch(`http://127.0.0.1:${n.port}${path}`, { headers: { authorization: `Bearer ${token}` } })).json()) as any; // eslint-disable-line @typescript-eslint/no-explicit-any

  const httpJob = (name: string, extra: Record<string, unknown> = {}) => ({ name, schedule: { manual: true }, action: { http: { url: `${rx.url}/${name}` } }, ...extra });

  beforeEach(async () => ({ endpoint, prefix, handle: h, rx } = await freshPrefixAndReceiver()));
  afterEach(() => stopAfterTest(nodes, rx, h));

  it('authorises by Q-Server-Token (or a bearer token): an app sees only its own jobs', async () => {
    const n = await node();
    await job(n, httpJob('qschedule.demo.job1'));
    await job(n, httpJob('appb.job'), 'tqb');
    for (const token of [null, 'nope']) {
      const r = await q(n, 'GET', '/api2/jobs/qschedule.demo.job1.do', undefined, token);
      expect(r.status).to.equal(200);
      expect(r.body).to.deep.equal({ ret: false, message: '授权失败' });
    }
    const bearer = await fetch(`http://127.0.0.1:${n.port}/api2/jobs/qschedule.demo.job1.do`, { headers: { authorization: 'Bearer tqa' } });
    expect(((await bearer.json()) as { ret: boolean }).ret).to.equal(true);
    // Another app's job does not exist for this one, through every call.
    expect((await q(n, 'GET', '/api2/jobs/appb.job.do')).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'POST', '/api2/jobs/off.do', { jobs: ['appb.job'] })).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'POST', '/api2/tasks.do', { job: 'appb.job', param: {} })).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'GET', '/api2/workers/appb.job.do')).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'POST', '/api2/workers/state.do', { jobName: 'appb.job', workers: '{}' })).body.message).to.be.oneOf(['job不存在', 'workers json 格式非法']);
    expect((await q(n, 'GET', '/api2/jobs/appb.job.do', undefined, 'tqb')).body.data).to.include({ name: 'appb.job', appName: 'appb' });
  });

  it('jobs/$name.do answers the job fields; on.do and off.do switch jobs, all or none', async () => {
    const n = await node();
    await job(n, {
      name: 'car.coupon.sendOutdateMsg',
      schedule: { cron: '0 30 9 * * *', tz: 'Asia/Shanghai' },
      action: { http: { url: `${rx.url}/coupon` } },
      placement: { strategy: 'random' },
      policies: { timeoutMs: 60_000, alertAfterFailures: 3, onLost: 'retry' },
      labels: { desc: '发送即将过期短信' },
    });
    await job(n, httpJob('qschedule.demo.job2', { policies: { onLost: 'discard' } }));
    const r = await q(n, 'GET', '/api2/jobs/car.coupon.sendOutdateMsg.do');
    expect(r.status).to.equal(200);
    expect(r.body.ret).to.equal(true);
    const d = r.body.data;
    expect(d).to.include({ appName: 'appa', name: 'car.coupon.sendOutdateMsg', cron: '0 30 9 * * *', desc: '发送即将过期短信', state: true, recover: 'retry', loadBalance: 'random', timeout: 60_000, consecutiveFailTimesAlertThreshold: 3, lastRun: 0, lastState: 0, lastDuration: 0, type: 'remote' });
    expect(d.appId).to.be.a('number');
    expect(d.lastUpdate).to.be.a('number');
    expect(new Date(d.nextRun).getUTCHours() * 60 + new Date(d.nextRun).getUTCMinutes()).to.equal(90); // 09:30 in Shanghai
    expect(Object.keys(d).sort()).to.deep.equal(['appId', 'appName', 'consecutiveFailTimesAlertThreshold', 'cron', 'desc', 'lastDuration', 'lastRun', 'lastState', 'lastUpdate', 'loadBalance', 'name', 'nextRun', 'recover', 'state', 'timeout', 'type']);
    expect((await q(n, 'GET', '/api2/jobs/qschedule.demo.job2.do')).body.data).to.include({ recover: 'discard', cron: '', desc: '', nextRun: 0 });
    expect((await q(n, 'GET', '/api2/jobs/no.such.job.do')).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'GET', '/api2/jobs/no-suffix')).body).to.deep.equal({ ret: false, message: '参数错误' });

    const off = await q(n, 'POST', '/api2/jobs/off.do', { jobs: ['car.coupon.sendOutdateMsg', 'qschedule.demo.job2'] });
    expect(off.body).to.deep.equal({ ret: true, message: '操作成功' });
    const stopped = (await q(n, 'GET', '/api2/jobs/car.coupon.sendOutdateMsg.do')).body.data;
    expect(stopped).to.include({ state: false, nextRun: 0 });
    // One unknown job: nothing changes.
    expect((await q(n, 'POST', '/api2/jobs/on.do', { jobs: ['car.coupon.sendOutdateMsg', 'nope'] })).body).to.deep.equal({ ret: false, message: 'job不存在' });
    expect((await q(n, 'GET', '/api2/jobs/car.coupon.sendOutdateMsg.do')).body.data.state).to.equal(false);
    expect((await q(n, 'POST', '/api2/jobs/on.do', { jobs: ['car.coupon.sendOutdateMsg'] })).body).to.deep.equal({ ret: true, message: '操作成功' });
    expect((await q(n, 'GET', '/api2/jobs/car.coupon.sendOutdateMsg.do')).body.data.state).to.equal(true);

    for (const [path, body, raw] of [['/api2/jobs/on.do', { jobs: [] }], ['/api2/jobs/off.do', { jobs: 'x' }], ['/api2/jobs/on.do', undefined, '{"jobs": ['], ['/api2/jobs/off.do', {}], ['/api2/jobs/on.do', [1]]] as [string, unknown, string?][]) {
      const bad = await q(n, 'POST', path, body, 'tqa', raw);
      expect(bad.status, path).to.equal(200);
      expect(bad.body, JSON.stringify(body ?? raw)).to.deep.equal({ ret: false, message: '参数错误' });
    }
    // Unknown fields are ignored.
    expect((await q(n, 'POST', '/api2/jobs/on.do', { jobs: ['qschedule.demo.job2'], token: 'old-style' })).body.ret).to.equal(true);
    // Other methods and paths.
    expect((await q(n, 'GET', '/api2/tasks.do')).status).to.equal(405);
    expect((await q(n, 'GET', '/api2/nothing/here')).status).to.equal(404);
  });

  it('tasks.do runs a job now with its param; the message is the new run id; last run fields follow', async () => {
    const n = await node();
    const j = await job(n, httpJob('qschedule.demo.job1'));
    const r = await q(n, 'POST', '/api2/tasks.do', { job: 'qschedule.demo.job1', param: { day: '2026-12-01', n: 3 } });
    expect(r.body.ret).to.equal(true);
    expect(r.body.message).to.match(new RegExp(`^${j.id}-\\d+-1$`));
    const hit = await waitFor(() => rx.forTask(j.id)[0], 'the callback');
    expect(JSON.parse(hit.body)).to.deep.equal({ day: '2026-12-01', n: 3 });
    expect(hit.runId).to.equal(r.body.message);
    const run = await waitFor(async () => {
      const x = await native(n, `/api/v1/runs/${r.body.message}`);
      return x.state === 'succeeded' ? x : null;
    }, 'the run to succeed');
    const d = (await q(n, 'GET', '/api2/jobs/qschedule.demo.job1.do')).body.data;
    expect(d).to.include({ lastRun: run.startedMs, lastState: 200, lastDuration: run.endedMs - run.startedMs });
    // A param given as a string holding JSON is taken too; none at all runs the action as defined.
    expect((await q(n, 'POST', '/api2/tasks.do', { job: 'qschedule.demo.job1', param: '{"s":1}' })).body.ret).to.equal(true);
    expect((await q(n, 'POST', '/api2/tasks.do', { job: 'qschedule.demo.job1' })).body.ret).to.equal(true);
    await waitFor(() => rx.forTask(j.id).length === 3, 'three callbacks');
    expect(rx.forTask(j.id).map((h) => h.body).sort()).to.deep.equal(['', '{"day":"2026-12-01","n":3}', '{"s":1}']);
    for (const body of [{}, { job: '' }, { job: 'qschedule.demo.job1', param: [1] }, { job: 'qschedule.demo.job1', param: 'not json' }, { job: 7 }]) {
      expect((await q(n, 'POST', '/api2/tasks.do', body)).body, JSON.stringify(body)).to.deep.equal({ ret: false, message: '参数错误' });
    }
    expect((await q(n, 'POST', '/api2/tasks.do', { job: 'nope', param: {} })).body).to.deep.equal({ ret: false, message: 'job不存在' });
  });

  it('workers: per-job on/off by ip:port, persisted and honoured by placement; never all off; bad input named', async () => {
    const n1 = await node('n1');
    const n2 = await node('n2');
    const j = await job(n1, { name: 'per.second', schedule: { cron: '* * * * * *', tz: 'UTC' }, action: { http: { url: `${rx.url}/tick` } }, placement: { strategy: 'round-robin' } });
    const a1 = `127.0.0.1:${n1.port}`;
    const a2 = `127.0.0.1:${n2.port}`;
    const listed = (await q(n1, 'GET', '/api2/workers/per.second.do')).body;
    expect(listed.ret).to.equal(true);
    expect(listed.data.map((w: { address: string; canSchedule: boolean; jobName: string }) => [w.address, w.canSchedule, w.jobName])).to.deep.equal([[a1, true, 'per.second'], [a2, true, 'per.second']]);
    expect(listed.data[0].hostname).to.be.a('string').and.not.equal('');
    // Both nodes take firings with round-robin.
    await waitFor(async () => new Set((await native(n1, `/api/v1/tasks/${j.id}/runs?limit=20`)).items.map((r: { node: string }) => r.node)).size === 2, 'runs on both nodes');

    expect((await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'per.second', workers: JSON.stringify({ [a1]: false }) })).body).to.deep.equal({ ret: true, message: '操作成功' });
    expect((await q(n2, 'GET', '/api2/workers/per.second.do')).body.data.map((w: { canSchedule: boolean }) => w.canSchedule)).to.deep.equal([false, true]);
    // The switch changes the task, and a change reaches every firing planned before it (a
    // candidate's claim compares the task's revision): every instant after it runs on n2.
    const since = (await native(n1, `/api/v1/tasks/${j.id}`)).updatedMs as number;
    await waitFor(async () => (await native(n1, `/api/v1/tasks/${j.id}/runs?limit=50`)).items.filter((r: { scheduledMs: number; state: string }) => r.scheduledMs > since && r.state === 'succeeded').length >= 3, 'three firings after the switch');
    const after = (await native(n1, `/api/v1/tasks/${j.id}/runs?limit=50`)).items.filter((r: { scheduledMs: number }) => r.scheduledMs > since);
    expect(after.every((r: { node: string }) => r.node === 'n2'), JSON.stringify(after.map((r: { node: string }) => r.node))).to.equal(true);

    // Never every worker off; a malformed string; an unknown address is reported (the known ones applied).
    expect((await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'per.second', workers: JSON.stringify({ [a2]: false }) })).body).to.deep.equal({ ret: false, message: '所有机器不能全部下线' });
    for (const workers of ['{"x":', '[]', '{"a":1}', '{}', 42]) {
      expect((await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'per.second', workers })).body, String(workers)).to.deep.equal({ ret: false, message: 'workers json 格式非法' });
    }
    const partly = await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'per.second', workers: JSON.stringify({ [a1]: true, '10.9.9.9:1': false }) });
    expect(partly.body).to.deep.equal({ ret: false, message: '可能存在未操作成功的机器,请调用查看接口验证', data: { unknownWorkers: ['10.9.9.9:1'] } });
    expect((await q(n1, 'GET', '/api2/workers/per.second.do')).body.data.map((w: { canSchedule: boolean }) => w.canSchedule)).to.deep.equal([true, true]);
    expect((await q(n1, 'POST', '/api2/workers/state.do', { workers: '{}' })).body).to.deep.equal({ ret: false, message: '参数错误' });
    expect((await q(n1, 'GET', '/api2/workers/nope.do')).body).to.deep.equal({ ret: false, message: 'job不存在' });
    await q(n1, 'POST', '/api2/jobs/off.do', { jobs: ['per.second'] });
  });

  it("workers as qschedule's clients know them: an old worker's ip:port in node.workerAddresses, or any port on a host with one node", async () => {
    const old = '192.168.1.1:20010';
    const n1 = await node('n1', [old, '192.168.1.2:20010']);
    const n2 = await node('n2');
    const a2 = `127.0.0.1:${n2.port}`;
    const j = await job(n1, httpJob('by.old.address', { placement: { strategy: 'round-robin' } }));
    const workers = async () => (await q(n1, 'GET', '/api2/workers/by.old.address.do')).body.data.map((w: { address: string; canSchedule: boolean }) => [w.address, w.canSchedule]);
    // The list shows the addresses the clients know: each old worker n1 stands for, then n2's API address.
    expect(await workers()).to.deep.equal([[old, true], ['192.168.1.2:20010', true], [a2, true]]);
    expect((await q(n2, 'POST', '/api2/workers/state.do', { jobName: 'by.old.address', workers: JSON.stringify({ [old]: false }) })).body).to.deep.equal({ ret: true, message: '操作成功' });
    expect((await native(n1, `/api/v1/tasks/${j.id}`)).placement.excludeNodes).to.deep.equal(['n1']);
    expect(await workers()).to.deep.equal([[old, false], ['192.168.1.2:20010', false], [a2, true]]);
    // Another old worker port on a mapped host names the same node.
    expect((await q(n2, 'POST', '/api2/workers/state.do', { jobName: 'by.old.address', workers: JSON.stringify({ '192.168.1.2:20011': true }) })).body).to.deep.equal({ ret: true, message: '操作成功' });
    expect((await native(n1, `/api/v1/tasks/${j.id}`)).placement.excludeNodes).to.equal(undefined);
    await q(n2, 'POST', '/api2/workers/state.do', { jobName: 'by.old.address', workers: JSON.stringify({ [old]: false }) });
    // Two nodes on 127.0.0.1: a port neither listens on names neither.
    const both = await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'by.old.address', workers: JSON.stringify({ '127.0.0.1:20010': true }) });
    expect(both.body).to.deep.equal({ ret: false, message: '可能存在未操作成功的机器,请调用查看接口验证', data: { unknownWorkers: ['127.0.0.1:20010'] } });
    // The check before stopping the old worker's machine finds the runs of the node that replaces it.
    await job(n1, { name: 'long.on.n1', schedule: { manual: true }, action: { process: { command: 'sleep 2' } }, placement: { nodes: ['n1'] } });
    const t = await q(n1, 'POST', '/api2/tasks.do', { job: 'long.on.n1' });
    await waitFor(async () => (await q(n1, 'GET', '/api/check/192.168.1.1.do', undefined, null)).body.data.some((d: { name: string }) => d.name === 'long.on.n1'), 'the run listed under the old worker host');
    expect((await q(n1, 'GET', '/api/check/192.168.1.9.do', undefined, null)).body).to.deep.equal({ data: [], ret: true });
    await waitFor(async () => (await native(n1, `/api/v1/runs/${t.body.message}`)).state === 'succeeded', 'the long run ended');
    // With one node left on 127.0.0.1, any port there names it: the old worker's port works.
    nodes.splice(nodes.indexOf(n2), 1);
    await n2.stop();
    await waitFor(async () => (await workers()).length === 2, 'n2 gone from the workers');
    expect((await q(n1, 'POST', '/api2/workers/state.do', { jobName: 'by.old.address', workers: JSON.stringify({ '127.0.0.1:20010': true }) })).body).to.deep.equal({ ret: true, message: '操作成功' });
    expect((await native(n1, `/api/v1/tasks/${j.id}`)).placement.excludeNodes).to.equal(undefined);
  });

  it('/api/check/$ip.do lists, without a token, the jobs with a run in flight on that host, from start to end', async () => {
    const n = await node();
    // Both runs last until the test has seen them together (a file appears), not a fixed time: on a
    // loaded machine two `sleep 2` runs started one after the other may never overlap in a check.
    const gate = join(tempDir('rota-qcheck-'), 'go');
    const long = await job(n, { name: 'long.job', schedule: { manual: true }, action: { process: { command: `while [ ! -e ${gate} ]; do sleep 0.05; done` } } });
    await job(n, httpJob('idle.job'));
    await job(n, { name: 'their.long', schedule: { manual: true }, action: { process: { command: `while [ ! -e ${gate} ]; do sleep 0.05; done` } } }, 'tqb');
    const empty = await q(n, 'GET', '/api/check/127.0.0.1.do', undefined, null);
    expect(empty.body).to.deep.equal({ data: [], ret: true });
    const t = await q(n, 'POST', '/api2/tasks.do', { job: 'long.job', param: {} });
    await q(n, 'POST', '/api2/tasks.do', { job: 'their.long' }, 'tqb');
    const during = await waitFor(async () => {
      const r = await q(n, 'GET', '/api/check/127.0.0.1.do', undefined, null);
      return r.body.data.length === 2 ? r.body : null;
    }, 'both long jobs in flight');
    expect(during.ret).to.equal(true);
    expect(during.data.map((d: { name: string; appName: string }) => `${d.appName}/${d.name}`).sort()).to.deep.equal(['appa/long.job', 'appb/their.long']);
    expect(during.data.find((d: { name: string }) => d.name === 'long.job')).to.include({ lastState: 100, state: true, type: 'remote' });
    // Not on another host.
    expect((await q(n, 'GET', '/api/check/10.1.2.3.do', undefined, null)).body).to.deep.equal({ data: [], ret: true });
    // Until the outcome is committed: then it is gone.
    writeFileSync(gate, '');
    await waitFor(async () => (await native(n, `/api/v1/runs/${t.body.message}`)).state === 'succeeded', 'the long run ended');
    await waitFor(async () => (await q(n, 'GET', '/api/check/127.0.0.1.do', undefined, null)).body.data.every((d: { name: string }) => d.name !== 'long.job'), 'long.job gone from the check');
    expect((await q(n, 'GET', '/api/check/bad%20host.do', undefined, null)).body).to.deep.equal({ ret: false, message: '参数错误' });
    expect(long.id).to.be.a('string');
  });

  it('works with curl as the document shows it', async () => {
    const n = await node();
    await job(n, httpJob('qschedule.demo.job1'));
    await job(n, httpJob('qschedule.demo.job2'));
    const { stdout } = await run('curl', ['-s', '-XPOST', `http://127.0.0.1:${n.port}/api2/jobs/off.do`, '-H', 'Q-Server-Token: tqa', '-d', '{"jobs":["qschedule.demo.job1","qschedule.demo.job2"]}']);
    expect(JSON.parse(stdout)).to.deep.equal({ ret: true, message: '操作成功' });
    const got = await run('curl', ['-s', `http://127.0.0.1:${n.port}/api2/jobs/qschedule.demo.job1.do`, '-H', 'Q-Server-Token: tqa']);
    expect(JSON.parse(got.stdout).data).to.include({ name: 'qschedule.demo.job1', state: false });
  });
});
