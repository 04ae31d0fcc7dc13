/**
 * Helpers for the security tests: a throwaway CA and certificates made with the openssl CLI, a
 * Rota node whose log lines are captured, and calls that carry arbitrary headers.
 */
import { request, type Reply, type RequestOptions } from './http.js';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { RotaNode } from '../../src/node.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from './tmp.js';
import { testConfig } from './node.js';

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from another CA, which etcd must refuse. */
  rogueCert: string;
  rogueKey: string;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** A key pair and a certificate signed by `caName` (or self-signed when caName is null). */
function issue(dir: string, name: string, cn: string, caName: string | null, ext: string): void {
  openssl(dir, ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  if (caName === null) {
    openssl(dir, ['req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`]);
    return;
  }
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Requires the openssl CLI (Debian's openssl package). */
export function makePki(): Pki {
  const dir = tempDir('rota-pki-');
  issue(dir, 'ca', 'rota-test-ca', null, '');
  issue(dir, 'server', '127.0.0.1', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  issue(dir, 'client', 'root', 'ca', 'extendedKeyUsage=clientAuth\n');
  issue(dir, 'rogue-ca', 'rogue-ca', null, '');
  issue(dir, 'rogue', 'root', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => join(dir, n);
  return { dir, ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key'), rogueCert: f('rogue.crt'), rogueKey: f('rogue.key') };
}

/** Every log line a node writes, as text. */
export class LogCapture {
  readonly lines: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, cb) => {
      this.lines.push(chunk.toString());
      cb();
    },
  });
  text(): string {
    return this.lines.join('');
  }
}

/** A node (not started) with test defaults, the given overrides and a debug-level captured log. */
export function nodeWithLog(endpoint: string, prefix: string, over: Partial<Config>, capture: LogCapture, id = 'n1'): RotaNode {
  const cfg = testConfig(endpoint, prefix, over, id, { graceMs: 2_000, killGraceMs: 500 });
  return new RotaNode(cfg, createLogger({ level: 'debug', destination: capture.stream }));
}

export type { Reply };

/** A call with any headers; a JSON body (or raw text), parsed JSON back when it is JSON. */
export async function call(port: number, method: string, path: string, o: RequestOptions = {}): Promise<Reply> {
  return request(port, method, path, o);
}
