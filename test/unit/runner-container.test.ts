import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { containerCommand, findContainerRuntime, removeArgs, runContainer } from '../../src/runner/container.js';

describe('runner: container', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'rota-runner-ctr-'))));
  after(async () => rm(dir, { recursive: true, force: true }));

  it('is a failed outcome, not an error, when no runtime is on PATH', async () => {
    expect(findContainerRuntime(dir)).to.equal(undefined);
    const out = await runContainer({ image: 'alpine', args: [], env: {} }, {
      taskId: 't', runId: 'r', scheduledMs: 0, attempt: 1, logFile: join(dir, 'out.log'), outputCapBytes: 100,
      tailBytes: 100, killGraceMs: 100, signal: new AbortController().signal, allowedUsers: [],
    }, dir);
    expect(out).to.deep.equal({ state: 'failed', message: 'container runtime not available on this node' });
  });

  it('builds a shell-quoted run command', () => {
    expect(containerCommand('/usr/bin/docker', { image: 'alpine:3', args: ['echo', "it's $HOME"], env: { A: '1 2' } }))
      .to.equal(`/usr/bin/docker run --rm -e 'A=1 2' alpine:3 echo 'it'\\''s $HOME'`);
  });

  it('removes a killed run\'s container at once: podman is told not to wait its stop timeout again', () => {
    expect(removeArgs('/usr/bin/podman', 'rota-1')).to.deep.equal(['rm', '-f', '--time', '0', 'rota-1']);
    expect(removeArgs('/usr/bin/docker', 'rota-1')).to.deep.equal(['rm', '-f', 'rota-1']);
  });
});
