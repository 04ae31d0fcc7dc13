import { expect } from 'chai';
import { request, type Reply } from '../support/http.js';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startEtcdProcess, type EtcdProcess } from '../../src/store/etcd-process.js';
import { connectEtcd, type EtcdHandle } from '../../src/store/etcd.js';
import type { RotaNode } from '../../src/node.js';
import { waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);

const call = (node: RotaNode, method: string, path: string, body?: unknown): Promise<Reply> => request(node, method, path, { body, timeoutMs: 30_000 });

/**
 * etcd's space quota: a member started with a small --quota-backend-bytes is filled (by keys
 * outside Rota's prefix) until it raises its NOSPACE alarm. Rota keeps answering reads, refuses
 * writes with a 503 that says so, shows the alarm in /readyz and /metrics, and once the operator
 * has compacted, defragmented and disarmed (docs/operations.md, with etcdctl as written there),
 * resumes by itself; a task firing every second through it runs no firing twice.
 */
describe('etcd out of space (NOSPACE alarm; one member with a 16 MiB quota)', function () {
  this.timeout(180_000);
  let etcd: EtcdProcess;
  let node: RotaNode;
  let junk: EtcdHandle;
  const dir = tempDir('rota-nospace-');

  before(async () => {
    etcd = await startEtcdProcess({ dataDir: join(dir, 'etcd'), clientPort: await freePort(), peerPort: await freePort(), extraArgs: ['--quota-backend-bytes', String(16 * 1024 * 1024)] });
    node = await startNode(etcd.endpoint, '/rota/', {}, 'n1');
    junk = connectEtcd({ endpoints: [etcd.endpoint], prefix: '/junk/' });
  });
  after(async () => {
    junk?.close();
    await node?.stop().catch(() => undefined);
    await etcd?.stop();
  });

  it('reads work, writes answer 503 saying NOSPACE, /readyz and /metrics show it; compact, defrag and disarm, and it resumes by itself with no firing run twice', async () => {
    const me = { tenant: 'default' };
    const ran = join(dir, 'ran');
    const t = await node.service.create(me, { name: 'every-second', schedule: { cron: '* * * * * *' }, action: { process: { command: `echo $ROTA_SCHEDULED_AT >> ${ran}` } } });
    await waitFor(() => existsSync(ran) && readFileSync(ran, 'utf8').trim().split('\n').length >= 2, 'the task firing', 20_000);

    // Fill etcd: four keys written again and again with 512 KiB values (every revision is kept until a compaction).
    let filled = false;
    for (let i = 0; i < 200 && !filled; i++) {
      try {
        await junk.ns.put(`k${i % 4}`).value('x'.repeat(512 * 1024));
      } catch (err) {
        expect((err as Error).message).to.match(/database space exceeded/);
        filled = true;
      }
    }
    expect(filled, 'etcd raised NOSPACE').to.equal(true);

    const ready = await waitFor(async () => {
      const r = await call(node, 'GET', '/readyz');
      return r.body?.detail?.etcd?.alarms?.includes("NOSPACE") ? r : null;
    }, '/readyz showing the alarm', 10_000, 250);
    expect(ready.body.detail.etcd.reachable).to.equal(true);
    expect((await call(node, 'GET', `/api/v1/tasks/${t.id}`)).status, 'a read').to.equal(200);
    const refused = await call(node, 'POST', '/api/v1/tasks', { name: 'new', schedule: { manual: true }, action: { process: { command: 'true' } } });
    expect(refused.status).to.equal(503);
    expect(refused.body.error.message).to.match(/out of space \(NOSPACE alarm\)/);
    const metrics = await (await fetch(`http://127.0.0.1:${node.port}/metrics`)).text();
    expect(metrics).to.match(/^rota_etcd_alarm\{alarm="NOSPACE"\} 1$/m);
    await new Promise((r) => setTimeout(r, 3_000)); // firings fall due while writes are refused

    // The operator's steps (docs/operations.md): compact to the current revision, defragment, disarm.
    const ctl = (...args: string[]) => run('etcdctl', ['--endpoints', etcd.endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
    const status = JSON.parse((await ctl('endpoint', 'status', '-w', 'json')).stdout) as { Status: { header: { revision: number } } }[];
    await ctl('compact', String(status[0]!.Status.header.revision));
    await ctl('defrag');
    await ctl('alarm', 'disarm');

    await waitFor(async () => (await call(node, 'POST', '/api/v1/tasks', { name: 'after', schedule: { manual: true }, action: { process: { command: 'true' } } })).status === 201, 'writes taken again', 20_000, 500);
    const before = readFileSync(ran, 'utf8').trim().split('\n').length;
    await waitFor(() => readFileSync(ran, 'utf8').trim().split('\n').length >= before + 3, 'the task firing again by itself', 20_000);
    expect((await call(node, 'GET', '/readyz')).body.detail.etcd.alarms).to.deep.equal([]);
    const lines = readFileSync(ran, 'utf8').trim().split('\n');
    expect(lines.length - new Set(lines).size, `firings run twice: ${lines.filter((l, i) => lines.indexOf(l) !== i).join(', ')}`).to.equal(0);
  });
});
