/** What every command gets from the global options: the API client and the output format. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiClient, DEFAULT_SERVER, serverUrl } from './client.js';
import { configPath, pickContext, readConfig } from './config-file.js';
import { usageError } from './exit.js';
import { parseFormat, setTableView, type Format } from './output.js';

export interface CliContext {
  api: ApiClient;
  format: Format;
}

export interface GlobalOptions {
  server?: string;
  token?: string;
  caCert?: string;
  context?: string;
  output: string;
  headers: boolean;
}

/**
 * Each of server, token and CA certificate: the flag, else its environment variable (ROTA_SERVER,
 * ROTA_TOKEN, ROTA_CA_CERT), else the context (--context or ROTA_CONTEXT, else the config file's
 * current one), else the default server.
 */
export function contextOf(cmd: Command): CliContext {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const needsContext = o.server === undefined || o.token === undefined || o.caCert === undefined;
  const ctx = needsContext ? pickContext(readConfig(), o.context ?? (process.env.ROTA_CONTEXT || undefined)) : {};
  const server = o.server ?? (process.env.ROTA_SERVER || undefined) ?? ctx.server ?? DEFAULT_SERVER;
  const token = o.token ?? (process.env.ROTA_TOKEN || undefined) ?? ctx.token;
  const caCert = o.caCert ?? (process.env.ROTA_CA_CERT || undefined) ?? ctx['ca-cert'];
  const format = parseFormat(o.output);
  setTableView({ wide: format === 'wide', headers: o.headers !== false });
  if (caCert && serverUrl(server).startsWith('https://')) trustCa(caCert);
  return { api: new ApiClient(server, token), format };
}

/**
 * HTTPS to a server whose certificate a private CA signed (a load balancer terminating TLS).
 * Node's fetch takes extra CAs only from NODE_EXTRA_CA_CERTS, read when the process starts: the
 * CLI runs itself once more with it set (the same arguments, stdin and stdout), and exits with
 * that run's code.
 */
function trustCa(file: string): void {
  const abs = resolve(file);
  if (process.env.NODE_EXTRA_CA_CERTS === abs) return;
  try {
    if (!readFileSync(abs, 'utf8').includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it');
  } catch (e) {
    throw usageError(`--ca-cert ${file}: ${(e as Error).message}${process.env.ROTA_CA_CERT ? '' : ` (set by flag, ROTA_CA_CERT or a context in ${configPath()})`}`);
  }
  const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], { stdio: 'inherit', env: { ...process.env, NODE_EXTRA_CA_CERTS: abs } });
  process.exit(r.status ?? 1);
}

/** Waits `ms` (polling loops of the waiting commands). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
