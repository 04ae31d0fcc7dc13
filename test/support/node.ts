import { RotaNode } from '../../src/node.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { tempDir } from './tmp.js';
import type { Clock } from '../../src/domain/clock.js';
import type { EtcdHandle } from '../../src/store/etcd.js';
import { freshEtcd } from './etcd.js';
import { Receiver } from './receiver.js';

/** A test node's config: a free loopback port, the given etcd and prefix, a fresh data folder, short drain and kill graces; `over` on top. */
export function testConfig(endpoint: string, prefix: string, over: Partial<Config> = {}, id = 'n1', graces = { graceMs: 5_000, killGraceMs: 1_000 }): Config {
  return {
    ...DEFAULTS,
    listen: { host: '127.0.0.1', port: 0 },
    node: { ...DEFAULTS.node, id },
    etcd: { ...DEFAULTS.etcd, endpoints: [endpoint], prefix },
    dataDir: tempDir('rota-node-'),
    shutdown: { graceMs: graces.graceMs },
    process: { killGraceMs: graces.killGraceMs },
    ...over,
  };
}

/** An in-process Rota node on a free loopback port, on the given etcd and prefix. */
export async function startNode(endpoint: string, prefix: string, over: Partial<Config> = {}, id = 'n1', clock?: Clock): Promise<RotaNode> {
  const cfg = testConfig(endpoint, prefix, over, id);
  const log = process.env.ROTA_TEST_LOG ? createLogger({ level: process.env.ROTA_TEST_LOG }) : silentLogger;
  const node = new RotaNode(cfg, log, clock);
  await node.start();
  return node;
}

/** Calls the node's native API. */
export async function api(node: RotaNode, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/** What a dialect's tests start before each test: a fresh prefix on the shared etcd and a receiver for callbacks. */
export async function freshPrefixAndReceiver(): Promise<{ endpoint: string; prefix: string; handle: EtcdHandle; rx: Receiver }> {
  return { ...(await freshEtcd()), rx: await new Receiver().start() };
}

/** ... and stop after it: the nodes the test started (drained, errors ignored), the receiver, the etcd handle. */
export async function stopAfterTest(nodes: RotaNode[], rx: Receiver, handle: EtcdHandle): Promise<void> {
  for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
  await rx.stop();
  handle.close();
}
