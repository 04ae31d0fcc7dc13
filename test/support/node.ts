import { RotaNode } from '../../src/node.js';
import { DEFAULTS, type Config } from '../../src/config.js';
import { silentLogger, createLogger } from '../../src/log.js';
import { tempDir } from './tmp.js';
import type { Clock } from '../../src/domain/clock.js';

/** An in-process Rota node on a free loopback port, on the given etcd and prefix. */
export async function startNode(endpoint: string, prefix: string, over: Partial<Config> = {}, id = 'n1', clock?: Clock): Promise<RotaNode> {
  const cfg: Config = {
    ...DEFAULTS,
    listen: { host: '127.0.0.1', port: 0 },
    node: { ...DEFAULTS.node, id },
    etcd: { ...DEFAULTS.etcd, endpoints: [endpoint], prefix },
    dataDir: tempDir('rota-node-'),
    shutdown: { graceMs: 5_000 },
    process: { killGraceMs: 1_000 },
    ...over,
  };
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
