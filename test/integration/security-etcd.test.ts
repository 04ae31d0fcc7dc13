import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startEtcdProcess, type EtcdProcess } from '../../src/store/etcd-process.js';
import { ConfigError, type Config } from '../../src/config.js';
import { EtcdConnectError } from '../../src/store/etcd.js';
import type { RotaNode } from '../../src/node.js';
import { waitFor } from '../support/etcd.js';
import { call, LogCapture, makePki, nodeWithLog, type Pki } from '../support/security.js';

const run = promisify(execFile);

/**
 * etcd.tls and etcd.auth against real etcd members: one serving TLS that requires a client
 * certificate, one with user/password auth enabled. The node must become ready and fire a
 * task; the wrong credentials must stop it at start-up with a message that says what is wrong;
 * the password never appears in its log.
 */
describe('security: etcd TLS and auth', function () {
  this.timeout(120_000);
  let pki: Pki;
  const members: EtcdProcess[] = [];
  const dirs: string[] = [];
  const nodes: RotaNode[] = [];

  const etcdMember = async (o: { tls?: boolean }): Promise<EtcdProcess> => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rota-etcd-sec-'));
    dirs.push(dataDir);
    const m = await startEtcdProcess({
      dataDir,
      clientPort: await freePort(),
      peerPort: await freePort(),
      name: 'sec',
      ...(o.tls ? { tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, clientCertAuth: true, clientCert: pki.clientCert, clientKey: pki.clientKey } } : {}),
    });
    members.push(m);
    return m;
  };

  /** Starts a node; stops it too if start fails, and returns the error instead. */
  const start = async (endpoint: string, etcd: Partial<Config['etcd']>, log = new LogCapture()): Promise<{ node: RotaNode | null; err: Error | null; log: LogCapture }> => {
    const node = nodeWithLog(endpoint, '/sec/', {}, log);
    Object.assign(node.cfg.etcd, etcd);
    try {
      await node.start();
      nodes.push(node);
      return { node, err: null, log };
    } catch (err) {
      await node.stop().catch(() => undefined);
      return { node: null, err: err as Error, log };
    }
  };

  /**
   * Ready, then a task every second runs to success: the whole path through etcd works.
   * (Not a manual trigger right after start: such a trigger is sometimes lost, with or without
   * TLS/auth; reported separately.)
   */
  const firesATask = async (node: RotaNode) => {
    await waitFor(async () => (await call(node.port, 'GET', '/readyz')).status === 200, 'node ready');
    const t = await call(node.port, 'POST', '/api/v1/tasks', { body: { name: `t-${Date.now()}`, schedule: { everyMs: 1000 }, action: { process: { command: 'echo fired' } } } });
    expect(t.status, JSON.stringify(t.body)).to.equal(201);
    const runs = await waitFor(async () => {
      const r = await call(node.port, 'GET', `/api/v1/tasks/${t.body.id}/runs`);
      return r.body?.items?.some((x: { state: string }) => x.state === 'succeeded') ? r.body.items : null;
    }, 'a run succeeded', 20_000);
    expect(runs.length).to.be.greaterThan(0);
  };

  before(() => {
    pki = makePki();
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop().catch(() => undefined);
  });
  after(async () => {
    for (const m of members) await m.stop('SIGKILL').catch(() => undefined);
    for (const d of [...dirs, pki.dir]) rmSync(d, { recursive: true, force: true });
  });

  describe('TLS with client certificates', () => {
    let etcd: EtcdProcess;
    before(async () => {
      etcd = await etcdMember({ tls: true });
      expect(etcd.endpoint).to.match(/^https:\/\//);
    });

    it('a node with etcd.tls (ca, cert, key) becomes ready and fires a task', async () => {
      const { node, err } = await start(etcd.endpoint, { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } });
      expect(err, String(err)).to.equal(null);
      await firesATask(node!);
    });

    it('without a client certificate, or with one from another CA, start-up fails saying TLS', async () => {
      for (const tls of [{ ca: pki.ca }, { ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey }]) {
        const { err } = await start(etcd.endpoint, { tls });
        expect(err, JSON.stringify(tls)).to.be.instanceOf(EtcdConnectError);
        expect(err!.message).to.contain(`cannot use etcd at ${etcd.endpoint}`).and.contain('TLS');
      }
    });

    it('a plain http:// endpoint to it fails at start-up; a missing or unpaired file is named', async () => {
      const plain = etcd.endpoint.replace('https://', 'http://');
      const { err } = await start(plain, {});
      expect(err).to.be.instanceOf(EtcdConnectError);
      expect(err!.message).to.contain('https://');
      const missing = join(pki.dir, 'no-such-ca.crt');
      const m = await start(etcd.endpoint, { tls: { ca: missing, cert: pki.clientCert, key: pki.clientKey } });
      expect(m.err).to.be.instanceOf(ConfigError);
      expect(m.err!.message).to.equal(`etcd.tls.ca: cannot read ${missing}: ENOENT`);
      const unpaired = await start(etcd.endpoint, { tls: { ca: pki.ca, cert: pki.clientCert } });
      expect(unpaired.err).to.be.instanceOf(ConfigError);
      expect(unpaired.err!.message).to.contain('etcd.tls.cert and etcd.tls.key go together');
      const wrongScheme = await start(plain, { tls: { ca: pki.ca } });
      expect(wrongScheme.err!.message).to.contain('etcd.tls is set but etcd.endpoints are not https://');
    });
  });

  describe('user/password auth', () => {
    let etcd: EtcdProcess;
    const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
    before(async () => {
      etcd = await etcdMember({});
      const ctl = (...args: string[]) => run('etcdctl', ['--endpoints', etcd.endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
      await ctl('user', 'add', `root:${password}`);
      await ctl('auth', 'enable');
    });

    it('a node with etcd.auth becomes ready and fires a task; the password is not in its log', async () => {
      const { node, err, log } = await start(etcd.endpoint, { auth: { username: 'root', password } });
      expect(err, String(err)).to.equal(null);
      await firesATask(node!);
      await node!.stop();
      expect(log.text()).to.contain('"configuration"');
      expect(log.text()).to.contain('[redacted]');
      expect(log.text()).not.to.contain(password);
    });

    it('the password can come from a file (etcd.auth.passwordFile)', async () => {
      const file = join(pki.dir, 'etcd-password');
      writeFileSync(file, `${password}\n`, { mode: 0o600 });
      const { node, err } = await start(etcd.endpoint, { auth: { username: 'root', passwordFile: file } });
      expect(err, String(err)).to.equal(null);
      await waitFor(async () => (await call(node!.port, 'GET', '/readyz')).status === 200, 'node ready');
    });

    it('a wrong password, or none, fails at start-up with a clear error that does not echo it', async () => {
      const wrong = await start(etcd.endpoint, { auth: { username: 'root', password: 'not-the-password' } });
      expect(wrong.err).to.be.instanceOf(EtcdConnectError);
      expect(wrong.err!.message).to.contain('etcd rejected the username/password (etcd.auth)');
      expect(wrong.err!.message).not.to.contain('not-the-password');
      expect(wrong.log.text()).not.to.contain('not-the-password');
      const none = await start(etcd.endpoint, {});
      expect(none.err).to.be.instanceOf(EtcdConnectError);
      expect(none.err!.message).to.contain('etcd.auth');
      const noPassword = await start(etcd.endpoint, { auth: { username: 'root' } });
      expect(noPassword.err).to.be.instanceOf(ConfigError);
      expect(noPassword.err!.message).to.contain('etcd.auth needs a password');
    });
  });
});
