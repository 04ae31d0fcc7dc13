import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { startNode } from '../support/node.js';
import { BUSYBOX_IMAGE, podmanReady } from '../support/podman.js';
import { containerName } from '../../src/runner/container.js';
import type { RotaNode } from '../../src/node.js';

const run = promisify(execFile);

/**
 * The container path for real: Debian's podman running an image imported from Debian's
 * busybox-static (no registry), through a real node. A machine that cannot run a container
 * reports these tests skipped with the reason, never passed.
 */
describe('container runs (integration, real podman, a locally built busybox image)', function () {
  this.timeout(120_000);
  const me = { tenant: 'default' };
  let node: RotaNode;
  let podman = '';

  before(async function () {
    const ready = await podmanReady();
    if (!ready.ok) {
      console.log(`      skipped: ${ready.why}`);
      this.skip();
    }
    podman = ready.podman;
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix);
  });
  after(async () => node?.stop());

  const ended = (runId: string) =>
    waitFor(async () => {
      const r = await node.service.getRun(me, runId);
      return r.state === 'running' || r.state === 'pending' ? null : r;
    }, 'the run ended', 60_000, 100);

  it('the node advertises podman; a run succeeds with the container\'s output, and its exit code is the run\'s', async () => {
    const self = (await node.nodes()).find((n) => n.id === 'n1');
    expect(self?.runtimes).to.include('podman');
    const ok = await node.service.create(me, { name: 'in-a-container', schedule: { manual: true }, action: { container: { image: BUSYBOX_IMAGE, args: ['sh', '-c', 'echo hello from $WHO'], env: { WHO: 'busybox' }, network: 'none' } } });
    const done = await ended((await node.service.trigger(me, ok.id)).runId);
    expect(done.state, JSON.stringify(done)).to.equal('succeeded');
    expect(done.exitCode).to.equal(0);
    expect(done.outputTail).to.contain('hello from busybox');

    const bad = await node.service.create(me, { name: 'fails-in-a-container', schedule: { manual: true }, action: { container: { image: BUSYBOX_IMAGE, args: ['sh', '-c', 'exit 4'], env: {}, network: 'none' } } });
    const failed = await ended((await node.service.trigger(me, bad.id)).runId);
    expect(failed.state).to.equal('failed');
    expect(failed.exitCode).to.equal(4);
  });

  it('killing the run takes the container with it', async () => {
    const t = await node.service.create(me, { name: 'killed-in-a-container', schedule: { manual: true }, action: { container: { image: BUSYBOX_IMAGE, args: ['sleep', '300'], env: {}, network: 'none' } } });
    const { runId } = await node.service.trigger(me, t.id);
    const name = containerName(runId);
    const listed = async (all: boolean) => (await run(podman, ['ps', ...(all ? ['--all'] : []), '--filter', `name=^${name}$`, '--format', '{{.Names}}'])).stdout.trim();
    await waitFor(async () => (await listed(false)) === name, 'the container running', 60_000, 200);
    await node.service.kill(me, runId);
    const killed = await ended(runId);
    expect(killed.state).to.equal('killed');
    // Gone, not only stopped (sleep as the container's pid 1 ignores SIGTERM: removed with SIGKILL).
    await waitFor(async () => (await listed(true)) === '', 'the container gone', 30_000, 200);
  });
});
