/**
 * The CLI's own config file: named contexts (server, token, CA certificate) and the current one,
 * as kubectl keeps them. YAML at $ROTA_CONFIG, else $XDG_CONFIG_HOME/rota/config.yaml, else
 * ~/.config/rota/config.yaml; written with mode 0600 (it holds tokens).
 *
 *   current-context: prod
 *   contexts:
 *     prod: { server: https://rota.example:7410, token: s3cret, ca-cert: /etc/rota/ca.pem }
 *     local: { server: 127.0.0.1:7400 }
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import YAML from 'yaml';
import { usageError } from './exit.js';

export interface CliContextEntry {
  server?: string;
  token?: string;
  'ca-cert'?: string;
}

export interface CliConfig {
  'current-context'?: string;
  contexts: Record<string, CliContextEntry>;
}

const KEYS = ['server', 'token', 'ca-cert'] as const;

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ROTA_CONFIG) return env.ROTA_CONFIG;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'rota', 'config.yaml');
}

/** The file's contexts; none when it does not exist. A file that is not what it should be is a usage error naming it. */
export function readConfig(path = configPath()): CliConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { contexts: {} };
    throw usageError(`cannot read the CLI config ${path}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text) ?? {};
  } catch (e) {
    throw usageError(`the CLI config ${path} is not YAML: ${(e as Error).message}`);
  }
  const o = doc as { 'current-context'?: unknown; contexts?: unknown };
  if (typeof o !== 'object' || Array.isArray(o)) throw usageError(`the CLI config ${path} must be a mapping with current-context and contexts`);
  const contexts: Record<string, CliContextEntry> = {};
  if (o.contexts !== undefined && (typeof o.contexts !== 'object' || o.contexts === null || Array.isArray(o.contexts))) throw usageError(`${path}: contexts must be a mapping of names to {server, token, ca-cert}`);
  for (const [name, raw] of Object.entries((o.contexts ?? {}) as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw usageError(`${path}: context ${name} must be a mapping of server, token, ca-cert`);
    const entry: CliContextEntry = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!(KEYS as readonly string[]).includes(k)) throw usageError(`${path}: context ${name}: unknown key '${k}' (use ${KEYS.join(', ')})`);
      if (typeof v !== 'string') throw usageError(`${path}: context ${name}: ${k} must be a string`);
      entry[k as (typeof KEYS)[number]] = v;
    }
    contexts[name] = entry;
  }
  const current = o['current-context'];
  if (current !== undefined && current !== null && typeof current !== 'string') throw usageError(`${path}: current-context must be a context name`);
  return { ...(typeof current === 'string' ? { 'current-context': current } : {}), contexts };
}

export function writeConfig(cfg: CliConfig, path = configPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const ordered = { ...(cfg['current-context'] !== undefined ? { 'current-context': cfg['current-context'] } : {}), contexts: cfg.contexts };
  writeFileSync(path, YAML.stringify(ordered), { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** The context to use: `name` (--context, ROTA_CONTEXT) or the current one; none when the file has none. */
export function pickContext(cfg: CliConfig, name: string | undefined, path = configPath()): CliContextEntry & { name?: string } {
  const want = name ?? cfg['current-context'];
  if (want === undefined) return {};
  const entry = cfg.contexts[want];
  if (!entry) throw usageError(`no context '${want}' in ${path}${Object.keys(cfg.contexts).length ? ` (there: ${Object.keys(cfg.contexts).join(', ')})` : ''}: rota config set-context ${want} --server HOST:PORT`);
  return { ...entry, name: want };
}
