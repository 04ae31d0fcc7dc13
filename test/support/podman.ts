import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './tmp.js';

const run = promisify(execFile);

/** The image the container tests run: Debian's static busybox, imported from a tarball (never pulled). */
export const BUSYBOX_IMAGE = 'localhost/rota-busybox:test';

/**
 * A containers.conf for hosts where podman's defaults cannot start a container: crun refuses
 * hybrid cgroups (v1 controllers with a v2 mount, as on this CI machine), and a host without
 * CAP_SYS_RESOURCE cannot raise the ulimits podman asks for by default. runc and ulimits no
 * higher than a default host's work on both. An operator's node on such a host needs the same
 * (docs/operations.md, "Containers").
 */
const FALLBACK_CONF = '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n';

const why = (err: unknown): string => {
  const e = err as { stderr?: string; message: string };
  return (e.stderr || e.message).trim().split('\n').pop() ?? e.message;
};

/**
 * Makes podman ready for a test: the busybox image imported, and a container that really runs
 * (`echo` inside it answers). Tries podman's defaults first, then the fallback configuration
 * (CONTAINERS_CONF, set for this process and the nodes it starts). Resolves to why not when this
 * machine cannot run a container, so the test reports itself skipped with the reason.
 */
export async function podmanReady(): Promise<{ ok: true; podman: string } | { ok: false; why: string }> {
  let podman: string;
  let busybox: string;
  try {
    podman = (await run('sh', ['-c', 'command -v podman'])).stdout.trim();
    busybox = (await run('sh', ['-c', 'command -v busybox'])).stdout.trim();
  } catch {
    return { ok: false, why: 'podman or busybox (busybox-static) is not installed: make test-tools installs them' };
  }
  // The image holds busybox alone: a dynamically linked one (Debian's busybox) would not start.
  const linked = await run('ldd', [busybox]).then((r) => r.stdout, (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`);
  if (!/not a dynamic executable/.test(linked)) return { ok: false, why: `${busybox} is dynamically linked: install busybox-static` };
  try {
    await run(podman, ['image', 'exists', BUSYBOX_IMAGE]);
  } catch {
    // A root file system with busybox and its applets as links, imported as an image.
    const dir = tempDir('rota-busybox-');
    const root = join(dir, 'root');
    await run('sh', ['-c', `mkdir -p ${root}/bin && cp ${busybox} ${root}/bin/busybox && for a in sh echo sleep cat true false; do ln -s busybox ${root}/bin/$a; done && tar -C ${root} -cf ${dir}/bb.tar .`]);
    try {
      await run(podman, ['import', '--change', 'CMD ["/bin/sh"]', join(dir, 'bb.tar'), BUSYBOX_IMAGE]);
    } catch (err) {
      return { ok: false, why: `podman import failed: ${why(err)}` };
    }
  }
  const probe = async (): Promise<string | null> => {
    try {
      const { stdout } = await run(podman, ['run', '--rm', '--network', 'none', BUSYBOX_IMAGE, 'echo', 'ready'], { timeout: 60_000 });
      return stdout.trim() === 'ready' ? null : `a container printed ${JSON.stringify(stdout)}, not "ready"`;
    } catch (err) {
      return why(err);
    }
  };
  const plain = await probe();
  if (plain === null) return { ok: true, podman };
  const conf = join(tempDir('rota-containers-'), 'containers.conf');
  writeFileSync(conf, FALLBACK_CONF);
  process.env.CONTAINERS_CONF = conf;
  const fallback = await probe();
  if (fallback === null) return { ok: true, podman };
  delete process.env.CONTAINERS_CONF;
  return { ok: false, why: `podman cannot start a container here: "${plain}" with its defaults, "${fallback}" with runc and low ulimits` };
}
