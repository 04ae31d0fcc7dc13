import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULTS, checkConfig, effectiveTokens, isLoopback, loadConfig, type Config } from '../../src/config.js';

function expectConfigError(fn: () => unknown, ...fragments: string[]): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(ConfigError);
    for (const f of fragments) expect((e as Error).message).to.contain(f);
    return e as ConfigError;
  }
  return expect.fail(`expected a ConfigError containing ${fragments.map((f) => JSON.stringify(f)).join(', ')}`);
}

function withAuth(host: string, auth: Partial<Config['auth']>): Config {
  const c = structuredClone(DEFAULTS);
  c.listen.host = host;
  c.auth = { ...c.auth, ...auth };
  return c;
}

describe('config', () => {
  let dir: string;
  let n = 0;
  const file = (text: string, ext = 'yaml') => {
    const p = join(dir, `rota-${n++}.${ext}`);
    writeFileSync(p, text);
    return p;
  };
  const pristine = structuredClone(DEFAULTS);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'rota-config-test-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    expect(DEFAULTS, 'DEFAULTS must never be mutated').to.deep.equal(pristine);
  });

  describe('loadConfig', () => {
    it('returns the defaults without sources', () => {
      const c = loadConfig();
      expect(c).to.deep.equal(DEFAULTS);
      expect(c.listen).to.deep.equal({ host: '127.0.0.1', port: 7400 });
      expect(c.node).to.deep.equal({ id: hostname(), attributes: {}, capacity: 100, maxClockSkewMs: 500, resources: { cpu: cpus().length, memMb: Math.floor(totalmem() / 1048576) } });
      expect(c.etcd).to.deep.equal({ endpoints: [], prefix: '/rota/', embedded: { clientPort: 2479, peerPort: 2480 } });
      expect(c.auth).to.deep.equal({ tokens: {}, required: 'auto', operators: ['default'] });
      expect(c.leaseTtlSec).to.equal(5);
      expect(c.log.level).to.equal('info');
      expect(c.advertise).to.equal(undefined);
      expect(loadConfig({ env: {}, flags: {} })).to.deep.equal(DEFAULTS);
    });

    it('does not read process.env unless given it', () => {
      const saved = process.env.ROTA_PORT;
      process.env.ROTA_PORT = '1234';
      try {
        expect(loadConfig().listen.port).to.equal(7400);
      } finally {
        if (saved === undefined) delete process.env.ROTA_PORT;
        else process.env.ROTA_PORT = saved;
      }
    });

    it('layers defaults < file < environment < flags', () => {
      const f = file(
        [
          'listen:',
          '  host: 0.0.0.0',
          '  port: 8000',
          'node:',
          '  id: file-node',
          '  capacity: 5',
          '  attributes: { rack: r1, hostname: h1 }',
          'etcd:',
          '  endpoints: [http://file:2379]',
          'dataDir: /var/lib/rota',
          'log:',
          '  level: warn',
          'auth:',
          '  tokens: { filetok: filetenant }',
          'runAs:',
          '  allowed: [deploy]',
          '',
        ].join('\n'),
      );
      const c = loadConfig({
        file: f,
        env: { ROTA_PORT: '9000', ROTA_LOG_LEVEL: 'debug', ROTA_NODE_ID: 'env-node', ROTA_TOKENS: 't1:a,t2:b', ROTA_PREFIX: '/env/' },
        flags: { port: '9100', 'node-id': 'flag-node' },
      });
      expect(c.listen).to.deep.equal({ host: '0.0.0.0', port: 9100 }); // host from the file, port from the flags
      expect(c.node).to.deep.equal({ id: 'flag-node', capacity: 5, maxClockSkewMs: 500, attributes: { rack: 'r1', hostname: 'h1' }, resources: DEFAULTS.node.resources });
      expect(c.log.level).to.equal('debug'); // env over file
      expect(c.etcd).to.deep.equal({ endpoints: ['http://file:2379'], prefix: '/env/', embedded: { clientPort: 2479, peerPort: 2480 } });
      expect(c.dataDir).to.equal('/var/lib/rota');
      expect(c.auth).to.deep.equal({ tokens: { t1: 'a', t2: 'b' }, required: 'auto', operators: ['default'] }); // env tokens replace the file's map
      expect(c.runAs.allowed).to.deep.equal(['deploy']);
      expect(c.leaseTtlSec).to.equal(5);
      expect(c.runs).to.deep.equal(DEFAULTS.runs);
    });

    it('the file alone overrides only what it names', () => {
      const c = loadConfig({ file: file('listen:\n  port: 8001\nshutdown:\n  graceMs: 100\n') });
      expect(c.listen).to.deep.equal({ host: '127.0.0.1', port: 8001 });
      expect(c.shutdown.graceMs).to.equal(100);
      expect(c.process).to.deep.equal(DEFAULTS.process);
    });

    it('reads JSON files too, and an empty file means defaults', () => {
      expect(loadConfig({ file: file('{"listen": {"port": 8002}, "leaseTtlSec": 10}', 'json') }).listen.port).to.equal(8002);
      expect(loadConfig({ file: file('') })).to.deep.equal(DEFAULTS);
    });

    it('finds the file from the config flag or ROTA_CONFIG (explicit file first, then flag, then env)', () => {
      const a = file('listen:\n  port: 1001\n');
      const b = file('listen:\n  port: 1002\n');
      const c = file('listen:\n  port: 1003\n');
      expect(loadConfig({ env: { ROTA_CONFIG: c } }).listen.port).to.equal(1003);
      expect(loadConfig({ env: { ROTA_CONFIG: c }, flags: { config: b } }).listen.port).to.equal(1002);
      expect(loadConfig({ file: a, env: { ROTA_CONFIG: c }, flags: { config: b } }).listen.port).to.equal(1001);
    });

    it('maps the other environment variables and flags', () => {
      const c = loadConfig({
        env: {
          ROTA_LISTEN: '0.0.0.0:8080',
          ROTA_ETCD: 'http://a:2379, http://b:2379,',
          ROTA_DATA_DIR: '/data',
          ROTA_ADVERTISE: 'node1.example:8080',
          ROTA_AUTH_REQUIRED: 'false',
          ROTA_ETCD_CLIENT_PORT: '3379',
          ROTA_ETCD_PEER_PORT: '3380',
        },
        flags: { listen: '10.0.0.1:9999', 'auth-required': 'true' },
      });
      expect(c.listen).to.deep.equal({ host: '10.0.0.1', port: 9999 });
      expect(c.etcd.endpoints).to.deep.equal(['http://a:2379', 'http://b:2379']);
      expect(c.etcd.embedded).to.deep.equal({ clientPort: 3379, peerPort: 3380 });
      expect(c.dataDir).to.equal('/data');
      expect(c.advertise).to.equal('node1.example:8080');
      expect(c.auth.required).to.equal(true);
      expect(loadConfig({ env: { ROTA_AUTH_REQUIRED: 'false' } }).auth.required).to.equal(false);
      expect(loadConfig({ env: { ROTA_AUTH_REQUIRED: 'auto' } }).auth.required).to.equal('auto');
    });

    it('parses ROTA_TOKENS="t1:a,t2:b" into a token -> tenant map', () => {
      expect(loadConfig({ env: { ROTA_TOKENS: 't1:a,t2:b' } }).auth.tokens).to.deep.equal({ t1: 'a', t2: 'b' });
      expect(loadConfig({ flags: { tokens: 'x:y' } }).auth.tokens).to.deep.equal({ x: 'y' });
    });

    it('rejects a malformed token list or listen address, naming the source', () => {
      // The entry is named by its position: its text may be a secret.
      expectConfigError(() => loadConfig({ env: { ROTA_TOKENS: 't1:a,t2' } }), 'environment tokens', 'entry 2');
      expectConfigError(() => loadConfig({ flags: { listen: 'nope' } }), "flags listen must be host:port, got 'nope'");
    });

    it("names an unknown key in the file: unknown key 'listen.hots'", () => {
      const f = file('listen:\n  hots: 0.0.0.0\n');
      const e = expectConfigError(() => loadConfig({ file: f }), "unknown key 'listen.hots'");
      expect(e.message).to.contain(f);
      expectConfigError(() => loadConfig({ file: file('lsiten:\n  port: 1\n') }), "unknown key 'lsiten'");
      expectConfigError(() => loadConfig({ file: file('etcd:\n  embedded:\n    clientport: 1\n') }), "unknown key 'etcd.embedded.clientport'");
    });

    it('names the key of a value with the wrong type or range', () => {
      expectConfigError(() => loadConfig({ file: file('listen:\n  port: eighty\n') }), "'listen.port' must be integer");
      expectConfigError(() => loadConfig({ file: file('leaseTtlSec: 100\n') }), "'leaseTtlSec' must be <= 60");
      expectConfigError(() => loadConfig({ file: file('node:\n  attributes: { rack: [1] }\n') }), "'node.attributes.rack' must be string");
      expectConfigError(() => loadConfig({ file: file('etcd:\n  endpoints: http://x:2379\n') }), "'etcd.endpoints' must be array");
      expectConfigError(() => loadConfig({ env: { ROTA_PORT: 'abc' } }), 'environment', "'listen.port' must be integer");
      expectConfigError(() => loadConfig({ flags: { 'log-level': 'loud' } }), 'flags', "'log.level'");
      expectConfigError(() => loadConfig({ flags: { 'node-id': 'bad id!' } }), "'node.id'");
    });

    it("reads node.workerAddresses (qschedule's old workers as ip:port) and refuses one without a port", () => {
      expect(loadConfig({ file: file('node:\n  workerAddresses: [192.168.1.1:20010, host-a.example:20011]\n') }).node.workerAddresses).to.deep.equal(['192.168.1.1:20010', 'host-a.example:20011']);
      expectConfigError(() => loadConfig({ file: file('node:\n  workerAddresses: [192.168.1.1]\n') }), "'node.workerAddresses.0' must match pattern");
    });

    it('reports every problem at once', () => {
      const e = expectConfigError(() => loadConfig({ file: file('listen:\n  hots: x\n  port: -1\n') }), "unknown key 'listen.hots'");
      expect(e.message).to.contain("'listen.port' must be >= 0");
    });

    it('refuses an unreadable or unparsable file', () => {
      expectConfigError(() => loadConfig({ file: join(dir, 'missing.yaml') }), 'cannot read config file');
      expectConfigError(() => loadConfig({ file: file('listen: [\n') }), 'cannot read config file');
    });
  });

  describe('checkConfig', () => {
    it('accepts partial configs and names the source of a bad one', () => {
      expect(() => checkConfig({}, 'x')).to.not.throw();
      expect(() => checkConfig({ listen: { port: 1 } }, 'x')).to.not.throw();
      expectConfigError(() => checkConfig({ auth: { required: 'maybe' } }, 'my-source'), 'invalid configuration in my-source', "'auth.required'");
    });
  });

  describe('effectiveTokens', () => {
    it('loopback without tokens: auth off (null)', () => {
      for (const host of ['127.0.0.1', 'localhost', '::1', '127.0.0.53']) expect(effectiveTokens(withAuth(host, {})), host).to.equal(null);
    });

    it('a non-loopback address without tokens is refused', () => {
      for (const host of ['0.0.0.0', '::', '10.1.2.3', 'rota.example']) expectConfigError(() => effectiveTokens(withAuth(host, {})), `listening on ${host} requires API tokens`);
    });

    it('0.0.0.0 with required: false exposes the API without tokens (null)', () => {
      expect(effectiveTokens(withAuth('0.0.0.0', { required: false }))).to.equal(null);
    });

    it('with tokens: the map, wherever it listens', () => {
      const tokens = { t1: 'a', t2: 'b' };
      expect(effectiveTokens(withAuth('0.0.0.0', { tokens }))).to.deep.equal(tokens);
      expect(effectiveTokens(withAuth('127.0.0.1', { tokens }))).to.deep.equal(tokens);
      expect(effectiveTokens(withAuth('0.0.0.0', { tokens, required: false }))).to.deep.equal(tokens);
    });

    it('required: true on loopback without tokens is refused', () => {
      expectConfigError(() => effectiveTokens(withAuth('127.0.0.1', { required: true })), 'requires API tokens');
    });

    it('works end to end from environment variables', () => {
      expect(effectiveTokens(loadConfig({ env: { ROTA_LISTEN: '0.0.0.0:7400', ROTA_TOKENS: 't1:a,t2:b' } }))).to.deep.equal({ t1: 'a', t2: 'b' });
      expectConfigError(() => effectiveTokens(loadConfig({ env: { ROTA_LISTEN: '0.0.0.0:7400' } })), 'requires API tokens');
    });
  });

  it('isLoopback', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1'].every(isLoopback)).to.equal(true);
    expect(['0.0.0.0', '::', '10.0.0.1', 'example.com'].some(isLoopback)).to.equal(false);
  });
});
