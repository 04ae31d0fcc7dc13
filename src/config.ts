import { readFileSync } from 'node:fs';
import { MAX_CLOCK_SKEW_MS } from './domain/clock-skew.js';
import { cpus, hostname, totalmem } from 'node:os';
import { Ajv } from 'ajv';
import YAML from 'yaml';

/** Node configuration: defaults < config file (YAML or JSON) < environment < flags. */
export interface Config {
  listen: { host: string; port: number };
  /** Address other nodes and clients reach this node at (default host:port). */
  advertise?: string;
  node: {
    id: string;
    attributes: Record<string, string>;
    capacity: number;
    /** What it offers to firings that request cpu/memory (default: the machine's cpus and memory). */
    resources: { cpu: number; memMb: number };
    /** Container runtimes to advertise (docker, podman); default: those that answer `info`. */
    runtimes?: string[];
    /** `ip:port` addresses the clients of qschedule know this node's workers by (the workers it replaces). */
    workerAddresses?: string[];
    /** A clock off from the cluster's median by more than this claims nothing (domain/clock-skew.ts). */
    maxClockSkewMs: number;
  };
  etcd: {
    /** Existing cluster; empty = spawn the embedded member under dataDir. */
    endpoints: string[];
    prefix: string;
    embedded: { clientPort: number; peerPort: number };
    /** TLS to etcd (https:// endpoints): PEM files. `ca` verifies the server; `cert` + `key` are the client certificate. */
    tls?: { ca?: string; cert?: string; key?: string };
    /** etcd user/password auth. The password may come from ROTA_ETCD_PASSWORD or `passwordFile` instead of the file. */
    auth?: { username: string; password?: string; passwordFile?: string };
  };
  dataDir: string;
  leaseTtlSec: number;
  auth: {
    /** token -> tenant */
    tokens: Record<string, string>;
    /** Require tokens even on loopback; 'auto' = required unless listening on loopback. */
    required: 'auto' | boolean;
    /** Tenants that operate the cluster: drain/undrain nodes and see every tenant's in-flight runs. */
    operators: string[];
  };
  runAs: { allowed: string[] };
  /** httpTimeoutMs: an HTTP or JSON-RPC callback with no timeout of its own (task or action) gives up after this. */
  runs: { keep: number; maxAgeMs: number; outputCapBytes: number; tailBytes: number; httpTimeoutMs: number };
  events: { keep: number; maxAgeMs: number };
  process: { killGraceMs: number };
  shutdown: { graceMs: number };
  /**
   * Firing protocol v2 (`candidates`, docs/architecture.md): firings of tasks with overlap
   * `allow`, no deps and no daemon are planned `horizonMs` ahead (again every `strideMs`) with
   * candidate nodes that claim at the instant, each `claimStepMs` after the one before. Off: the
   * leader assigns every firing, `writeAheadMs` ahead of its instant (protocol 1).
   */
  scheduler: { writeAheadMs: number; candidates: boolean; horizonMs: number; strideMs: number; claimStepMs: number; claimLeadMs: number };
  api: { maxBodyBytes: number; maxReplicas: number };
  /** Failure alerts (policies.alertAfterFailures): where they are POSTed besides the audit log. */
  alerts: { webhookUrl?: string };
  /** The Juice dialect: how long a submitted task may wait for a node that can take it. */
  juice: { expireAfterMs: number };
  log: { level: string };
}

export const DEFAULTS: Config = {
  listen: { host: '127.0.0.1', port: 7400 },
  node: { id: hostname(), attributes: {}, capacity: 100, maxClockSkewMs: MAX_CLOCK_SKEW_MS, resources: { cpu: cpus().length, memMb: Math.floor(totalmem() / 1048576) } },
  etcd: { endpoints: [], prefix: '/rota/', embedded: { clientPort: 2479, peerPort: 2480 } },
  dataDir: './data',
  leaseTtlSec: 5,
  auth: { tokens: {}, required: 'auto', operators: ['default'] },
  runAs: { allowed: [] },
  runs: { keep: 100, maxAgeMs: 7 * 24 * 3600_000, outputCapBytes: 10 * 1024 * 1024, tailBytes: 4096, httpTimeoutMs: 300_000 },
  events: { keep: 10_000, maxAgeMs: 30 * 24 * 3600_000 },
  process: { killGraceMs: 5_000 },
  shutdown: { graceMs: 30_000 },
  scheduler: { writeAheadMs: 1500, candidates: true, horizonMs: 20_000, strideMs: 5_000, claimStepMs: 250, claimLeadMs: 0 },
  api: { maxBodyBytes: 1024 * 1024, maxReplicas: 1000 },
  alerts: {},
  juice: { expireAfterMs: 10 * 60_000 },
  log: { level: 'info' },
};

const int = (min: number, max?: number) => ({ type: 'integer', minimum: min, ...(max !== undefined ? { maximum: max } : {}) });
const strMap = { type: 'object', additionalProperties: { type: 'string' } };

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: { type: 'object', additionalProperties: false, properties: { host: { type: 'string', minLength: 1 }, port: int(0, 65535) } },
    advertise: { type: 'string' },
    node: {
      type: 'object',
      additionalProperties: false,
      properties: {
        id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
        attributes: strMap,
        capacity: int(1),
        resources: { type: 'object', additionalProperties: false, properties: { cpu: { type: 'number', minimum: 0 }, memMb: int(0) } },
        runtimes: { type: 'array', items: { enum: ['docker', 'podman'] } },
        maxClockSkewMs: int(1),
        workerAddresses: { type: 'array', maxItems: 100, items: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,253}:[0-9]{1,5}$' } },
      },
    },
    etcd: {
      type: 'object',
      additionalProperties: false,
      properties: {
        endpoints: { type: 'array', items: { type: 'string', minLength: 1 } },
        prefix: { type: 'string', pattern: '^/.*/$' },
        embedded: { type: 'object', additionalProperties: false, properties: { clientPort: int(1, 65535), peerPort: int(1, 65535) } },
        tls: { type: 'object', additionalProperties: false, properties: { ca: { type: 'string', minLength: 1 }, cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 } } },
        auth: {
          type: 'object',
          additionalProperties: false,
          properties: { username: { type: 'string', minLength: 1 }, password: { type: 'string' }, passwordFile: { type: 'string', minLength: 1 } },
        },
      },
    },
    dataDir: { type: 'string', minLength: 1 },
    leaseTtlSec: int(2, 60),
    auth: {
      type: 'object',
      additionalProperties: false,
      properties: { tokens: strMap, required: { anyOf: [{ type: 'boolean' }, { const: 'auto' }] }, operators: { type: 'array', items: { type: 'string', minLength: 1 } } },
    },
    runAs: { type: 'object', additionalProperties: false, properties: { allowed: { type: 'array', items: { type: 'string' } } } },
    runs: { type: 'object', additionalProperties: false, properties: { keep: int(1), maxAgeMs: int(1000), outputCapBytes: int(1024), tailBytes: int(0, 1024 * 1024), httpTimeoutMs: int(1000) } },
    events: { type: 'object', additionalProperties: false, properties: { keep: int(1), maxAgeMs: int(1000) } },
    process: { type: 'object', additionalProperties: false, properties: { killGraceMs: int(0) } },
    shutdown: { type: 'object', additionalProperties: false, properties: { graceMs: int(0) } },
    scheduler: {
      type: 'object',
      additionalProperties: false,
      properties: { writeAheadMs: int(30, 60_000), candidates: { type: 'boolean' }, horizonMs: int(2_000, 600_000), strideMs: int(200, 60_000), claimStepMs: int(20, 10_000), claimLeadMs: int(0, 5_000) },
    },
    api: { type: 'object', additionalProperties: false, properties: { maxBodyBytes: int(1024), maxReplicas: int(1) } },
    alerts: { type: 'object', additionalProperties: false, properties: { webhookUrl: { type: 'string', pattern: '^https?://' } } },
    juice: { type: 'object', additionalProperties: false, properties: { expireAfterMs: int(1000) } },
    log: { type: 'object', additionalProperties: false, properties: { level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] } } },
  },
};

const validate = new Ajv({ allErrors: true }).compile(schema);

export class ConfigError extends Error {}

function deepMerge<T>(base: T, over: unknown): T {
  if (!over || typeof over !== 'object' || Array.isArray(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && typeof b === 'object' && !Array.isArray(b) && v && typeof v === 'object' && !Array.isArray(v) && k !== 'tokens' && k !== 'attributes' ? deepMerge(b, v) : v;
  }
  return out as T;
}

/** Checks a partial config; throws ConfigError naming the bad key. */
export function checkConfig(partial: unknown, source: string): void {
  if (validate(partial)) return;
  const msgs = (validate.errors ?? []).map((e) => {
    const path = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
    if (e.keyword === 'additionalProperties') return `unknown key '${path ? path + '.' : ''}${(e.params as { additionalProperty: string }).additionalProperty}'`;
    return `'${path || '(root)'}' ${e.message}`;
  });
  throw new ConfigError(`invalid configuration in ${source}: ${[...new Set(msgs)].join('; ')}`);
}

export interface ConfigSources {
  file?: string;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, string | undefined>;
}

function hostPort(v: string, what: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(v);
  if (!m) throw new ConfigError(`${what} must be host:port, got '${v}'`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** Environment variables and flags that map onto config keys. */
function overrides(vars: Record<string, string | undefined>, what: string): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const set = (path: string[], v: unknown) => {
    let cur = o;
    for (const p of path.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[path[path.length - 1]!] = v;
  };
  const v = (k: string) => vars[k];
  if (v('listen')) set(['listen'], hostPort(v('listen')!, `${what} listen`));
  if (v('port')) set(['listen', 'port'], Number(v('port')));
  if (v('etcd')) set(['etcd', 'endpoints'], v('etcd')!.split(',').map((s) => s.trim()).filter(Boolean));
  if (v('prefix')) set(['etcd', 'prefix'], v('prefix'));
  if (v('data-dir')) set(['dataDir'], v('data-dir'));
  if (v('node-id')) set(['node', 'id'], v('node-id'));
  if (v('advertise')) set(['advertise'], v('advertise'));
  if (v('log-level')) set(['log', 'level'], v('log-level'));
  if (v('tokens')) {
    const t: Record<string, string> = {};
    for (const pair of v('tokens')!.split(',')) {
      const [tok, tenant] = pair.split(':');
      // The pair holds a secret: name its position, never its text.
      if (!tok || !tenant) throw new ConfigError(`${what} tokens must be token:tenant,...: entry ${Object.keys(t).length + 1} has no ':tenant'`);
      t[tok] = tenant;
    }
    set(['auth', 'tokens'], t);
  }
  if (v('auth-required')) set(['auth', 'required'], v('auth-required') === 'auto' ? 'auto' : v('auth-required') === 'true');
  if (v('alert-webhook')) set(['alerts', 'webhookUrl'], v('alert-webhook'));
  if (v('etcd-client-port')) set(['etcd', 'embedded', 'clientPort'], Number(v('etcd-client-port')));
  if (v('etcd-peer-port')) set(['etcd', 'embedded', 'peerPort'], Number(v('etcd-peer-port')));
  if (v('etcd-username')) set(['etcd', 'auth', 'username'], v('etcd-username'));
  if (v('etcd-password')) set(['etcd', 'auth', 'password'], v('etcd-password'));
  if (v('etcd-password-file')) set(['etcd', 'auth', 'passwordFile'], v('etcd-password-file'));
  if (v('etcd-ca')) set(['etcd', 'tls', 'ca'], v('etcd-ca'));
  if (v('etcd-cert')) set(['etcd', 'tls', 'cert'], v('etcd-cert'));
  if (v('etcd-key')) set(['etcd', 'tls', 'key'], v('etcd-key'));
  return o;
}

const ENV_KEYS: Record<string, string> = {
  ROTA_LISTEN: 'listen', ROTA_PORT: 'port', ROTA_ETCD: 'etcd', ROTA_PREFIX: 'prefix', ROTA_DATA_DIR: 'data-dir',
  ROTA_NODE_ID: 'node-id', ROTA_ADVERTISE: 'advertise', ROTA_LOG_LEVEL: 'log-level', ROTA_TOKENS: 'tokens',
  ROTA_AUTH_REQUIRED: 'auth-required', ROTA_ALERT_WEBHOOK: 'alert-webhook', ROTA_ETCD_CLIENT_PORT: 'etcd-client-port', ROTA_ETCD_PEER_PORT: 'etcd-peer-port',
  ROTA_ETCD_USERNAME: 'etcd-username', ROTA_ETCD_PASSWORD: 'etcd-password', ROTA_ETCD_PASSWORD_FILE: 'etcd-password-file',
  ROTA_ETCD_CA: 'etcd-ca', ROTA_ETCD_CERT: 'etcd-cert', ROTA_ETCD_KEY: 'etcd-key',
};

export function loadConfig(src: ConfigSources = {}): Config {
  let cfg = DEFAULTS;
  const file = src.file ?? src.flags?.config ?? src.env?.ROTA_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = YAML.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    checkConfig(parsed ?? {}, file);
    cfg = deepMerge(cfg, parsed ?? {});
  }
  const envVars: Record<string, string | undefined> = {};
  for (const [env, key] of Object.entries(ENV_KEYS)) envVars[key] = src.env?.[env];
  const fromEnv = overrides(envVars, 'environment');
  checkConfig(fromEnv, 'environment');
  cfg = deepMerge(cfg, fromEnv);
  const fromFlags = overrides(src.flags ?? {}, 'flags');
  checkConfig(fromFlags, 'flags');
  cfg = deepMerge(cfg, fromFlags);
  checkConfig(cfg, 'the merged configuration');
  return cfg;
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/** Token map the API enforces, or null when auth is off. Refuses an exposed node without tokens. */
export function effectiveTokens(cfg: Config): Record<string, string> | null {
  const required = cfg.auth.required === 'auto' ? !isLoopback(cfg.listen.host) : cfg.auth.required;
  const has = Object.keys(cfg.auth.tokens).length > 0;
  if (required && !has) {
    throw new ConfigError(`listening on ${cfg.listen.host} requires API tokens: set auth.tokens (token: tenant), or auth.required: false to expose the API without them`);
  }
  return has || required ? cfg.auth.tokens : null;
}

/** What the etcd client is given: file contents read, the password resolved. */
export interface EtcdSecurity {
  credentials?: { rootCertificate?: Buffer; privateKey?: Buffer; certChain?: Buffer };
  auth?: { username: string; password: string };
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`etcd.tls.${what}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Reads etcd.tls and etcd.auth at start-up: every file named in them must be readable, a client
 * certificate needs its key, TLS needs https:// endpoints (and https:// needs nothing more: the
 * system's CAs verify the server). Neither works with the embedded member (plain loopback).
 */
export function etcdSecurity(etcd: Config['etcd']): EtcdSecurity {
  const { tls, auth, endpoints } = etcd;
  const out: EtcdSecurity = {};
  if ((tls || auth) && endpoints.length === 0) {
    throw new ConfigError('etcd.tls and etcd.auth apply to an existing cluster: set etcd.endpoints (the embedded member listens on plain loopback without auth)');
  }
  const https = endpoints.filter((e) => e.startsWith('https://'));
  if (https.length && https.length !== endpoints.length) throw new ConfigError('etcd.endpoints mixes https:// and plain endpoints: use one scheme');
  if (tls && (tls.ca || tls.cert || tls.key)) {
    if (!https.length) throw new ConfigError('etcd.tls is set but etcd.endpoints are not https://');
    if (!!tls.cert !== !!tls.key) throw new ConfigError('etcd.tls.cert and etcd.tls.key go together (the client certificate and its private key)');
    out.credentials = {
      ...(tls.ca ? { rootCertificate: readPem(tls.ca, 'ca') } : {}),
      ...(tls.cert ? { certChain: readPem(tls.cert, 'cert') } : {}),
      ...(tls.key ? { privateKey: readPem(tls.key, 'key') } : {}),
    };
  }
  if (auth) {
    if (!auth.username) throw new ConfigError('etcd.auth.username is required with etcd.auth');
    let password = auth.password;
    if (password === undefined && auth.passwordFile) {
      try {
        password = readFileSync(auth.passwordFile, 'utf8').replace(/\r?\n$/, '');
      } catch (e) {
        throw new ConfigError(`etcd.auth.passwordFile: cannot read ${auth.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    if (password === undefined) throw new ConfigError('etcd.auth needs a password: etcd.auth.password, ROTA_ETCD_PASSWORD or etcd.auth.passwordFile');
    out.auth = { username: auth.username, password };
  }
  return out;
}
