import { expect } from 'chai';
import { userInfo } from 'node:os';
import type { RotaNode } from '../../src/node.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { call, LogCapture, nodeWithLog } from '../support/security.js';

/**
 * The run-as allowlist through the native API and /proc: another user is refused at submit time
 * (create and update) unless runAs.allowed lists it; when listed, the process runs as that user
 * (checked when the tests run as root, which can switch users; reported as skipped otherwise).
 */
describe('security: run-as allowlist', function () {
  this.timeout(60_000);
  const nodes: RotaNode[] = [];
  const start = async (allowed: string[]) => {
    const { endpoint, prefix } = await freshEtcd();
    const n = nodeWithLog(endpoint, prefix, { runAs: { allowed } }, new LogCapture());
    await n.start();
    nodes.push(n);
    return n.port;
  };
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
  });

  it('another user is refused through the native API (create and update) and /proc unless listed', async () => {
    const port = await start([]);
    const task = (user: string) => ({ name: 'as-other', schedule: { manual: true }, action: { process: { command: 'id -un', user } } });
    const r = await call(port, 'POST', '/api/v1/tasks', { body: task('nobody') });
    expect(r.status).to.equal(400);
    expect(r.body.error.code).to.equal('USER_NOT_ALLOWED');
    const mine = await call(port, 'POST', '/api/v1/tasks', { body: task(userInfo().username) });
    expect(mine.status).to.equal(201);
    const upd = await call(port, 'PUT', `/api/v1/tasks/${mine.body.id}`, { body: task('nobody') });
    expect(upd.status).to.equal(400);
    expect(upd.body.error.code).to.equal('USER_NOT_ALLOWED');
    const group = await call(port, 'POST', '/api/v1/tasks', { body: { ...task(userInfo().username), name: 'g', action: { process: { command: 'id', group: 'nogroup' } } } });
    expect(group.body.error.code).to.equal('USER_NOT_ALLOWED');
    const proc = await call(port, 'POST', '/proc', { body: { name: 'p-other', cmd: 'id -un', type: 'once', user: 'nobody' } });
    expect(proc.status).to.equal(400);
    expect(proc.body).to.deep.equal({ code: 400, msg: "user 'nobody' is not in the run-as allowlist" });
    expect((await call(port, 'GET', '/api/v1/tasks')).body.items.map((t: { name: string }) => t.name)).to.deep.equal(['as-other']);
  });

  it('a listed user is accepted through both', async () => {
    const port = await start(['nobody']);
    const r = await call(port, 'POST', '/api/v1/tasks', { body: { name: 'as-nobody', schedule: { manual: true }, action: { process: { command: 'id -un', user: 'nobody' } } } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const proc = await call(port, 'POST', '/proc', { body: { name: 'p-nobody', cmd: 'sleep 30', type: 'once', user: 'nobody' } });
    expect(proc.body).to.deep.equal({ code: 200, msg: 'OK' });
  });

  // It runs a second: long enough for its lease guard (which runs as that user) to read the
  // node's lease deadline several times; one that could not read it stopped the process at once.
  it('the process of a listed user runs as that user (root only: only root can switch users)', async function () {
    if (userInfo().uid !== 0) this.skip();
    const port = await start(['nobody']);
    const r = await call(port, 'POST', '/api/v1/tasks', { body: { name: 'as-nobody', schedule: { everyMs: 1000 }, action: { process: { command: 'sleep 1; id -un', user: 'nobody' } } } });
    expect(r.status, JSON.stringify(r.body)).to.equal(201);
    const run = await waitFor(async () => {
      const runs = (await call(port, 'GET', `/api/v1/tasks/${r.body.id}/runs`)).body.items as { state: string; outputTail?: string }[];
      return runs.find((x) => x.state === 'succeeded' || x.state === 'failed');
    }, 'a run of the nobody task ended', 20_000);
    expect(run.state, JSON.stringify(run)).to.equal('succeeded');
    expect(run.outputTail ?? '').to.contain('nobody');
  });
});
