import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startEtcdProcess, type EtcdProcess } from '../../src/store/etcd-process.js';
import { connectEtcd } from '../../src/store/etcd.js';
import { K } from '../../src/store/keys.js';
import type { RotaNode } from '../../src/node.js';
import type { Run } from '../../src/domain/task.js';
import { waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const ctl = (endpoint: string, ...args: string[]) => run('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });

/**
 * A backup that comes back: a snapshot of etcd is taken while a task fires every second, the
 * cluster goes on for a while, then etcd is restored from the snapshot (cursors, run records and
 * firings set back to then) and a node started on it. What Rota promises (docs/operations.md §3):
 * an instant whose run the snapshot recorded never runs again; the instants after the snapshot
 * are the misfire policy's (here run-all, 4 s window, at most 3): only those within the window
 * of the restart may run again, the others get a skipped run record that says so.
 */
describe('etcd restored from a snapshot (integration, one member, etcdctl snapshot save/restore)', function () {
  this.timeout(120_000);
  const dir = tempDir('rota-restore-');
  const ran = join(dir, 'ran');
  let etcd: EtcdProcess | null = null;
  let node: RotaNode | null = null;
  after(async () => {
    await node?.stop().catch(() => undefined);
    await etcd?.stop();
  });

  it('runs none the snapshot recorded again; the instants after it are caught up within the misfire policy, the rest recorded as skipped', async () => {
    const peer = await freePort();
    etcd = await startEtcdProcess({ dataDir: join(dir, 'e1'), clientPort: await freePort(), peerPort: peer, name: 'e1' });
    node = await startNode(etcd.endpoint, '/rota/');
    const me = { tenant: 'default' };
    const t = await node.service.create(me, {
      name: 'every-second',
      schedule: { cron: '* * * * * *' },
      action: { process: { command: `echo $ROTA_SCHEDULED_AT >> ${ran}` } },
      // discard: a run the snapshot caught in flight is not retried as lost (a retry would run its instant again, outside the misfire policy this test is about)
      policies: { misfire: { mode: 'run-all', windowMs: 4_000, maxCount: 3 }, onLost: 'discard' },
    });
    await waitFor(() => existsSync(ran) && readFileSync(ran, 'utf8').trim().split('\n').length >= 3, 'three firings', 20_000);
    const snap = join(dir, 'snap.db');
    await ctl(etcd.endpoint, 'snapshot', 'save', snap);
    // The cluster goes on past the snapshot (these runs are not in it), then is lost.
    await new Promise((r) => setTimeout(r, 8_000));
    await node.stop();
    node = null;
    await etcd.stop();
    const lostAt = Date.now();

    // The operator restores the snapshot (docs/operations.md §3) and starts the cluster again.
    const restored = join(dir, 'e1-restored');
    await run('etcdctl', ['snapshot', 'restore', snap, '--data-dir', restored, '--name', 'e1', '--initial-cluster', `e1=http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`], { env: { ...process.env, ETCDCTL_API: '3' } });
    etcd = await startEtcdProcess({ dataDir: restored, clientPort: await freePort(), peerPort: peer, name: 'e1' });
    const h = connectEtcd({ endpoints: [etcd.endpoint], prefix: '/rota/' });
    const inSnapshot = (await h.ns.getAll().prefix(K.taskRuns(t.id)).strings());
    const recorded = Object.values(inSnapshot).map((v) => JSON.parse(v) as Run).filter((r) => r.state === 'succeeded').map((r) => r.scheduledMs);
    h.close();
    expect(recorded.length, 'runs the snapshot recorded').to.be.at.least(2);

    node = await startNode(etcd.endpoint, '/rota/');
    const restartedAt = Date.now();
    // Firing on time again by itself.
    await waitFor(() => readFileSync(ran, 'utf8').trim().split('\n').map(Number).some((ms) => ms > restartedAt + 1_000), 'the task firing again', 30_000);

    const lines = readFileSync(ran, 'utf8').trim().split('\n').map(Number);
    const times = (ms: number) => lines.filter((l) => l === ms).length;
    // 1. Nothing the snapshot recorded ran again.
    expect(recorded.filter((ms) => times(ms) !== 1), 'recorded instants run other than once').to.deep.equal([]);
    // 2. The instants after the snapshot's last recorded run and before the loss ran then; after
    //    the restore the misfire policy decides: only those within its window (4 s) of the
    //    restart may run again (as catch-up, or a planned firing nobody claimed), the older
    //    ones are recorded as skipped.
    const newest = Math.max(...recorded);
    const gap = lines.filter((ms) => ms > newest && ms < lostAt);
    const again = [...new Set(gap.filter((ms) => times(ms) > 1))];
    expect(again.filter((ms) => restartedAt - ms > 4_000 + 1_000), `instants run again outside the misfire window: ${again.join(', ')}`).to.deep.equal([]);
    const runs = await waitFor(async () => {
      const items = (await node!.service.listRuns(me, t.id, 200)).items;
      return items.some((r) => r.state === 'skipped') ? items : null;
    }, 'the skipped record of the missed instants', 20_000, 250);
    const skipped = runs.filter((r) => r.state === 'skipped');
    expect(skipped[0]!.message).to.match(/misfire|skipped/);
  });
});
