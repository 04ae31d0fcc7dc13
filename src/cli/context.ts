/** What every command gets from the global options: the API client and the output format. */
import type { Command } from 'commander';
import { ApiClient, DEFAULT_SERVER } from './client.js';
import { parseFormat, type Format } from './output.js';

export interface CliContext {
  api: ApiClient;
  format: Format;
}

export interface GlobalOptions {
  server?: string;
  token?: string;
  output: string;
}

/** Flags first, then ROTA_SERVER / ROTA_TOKEN, then the default server. */
export function contextOf(cmd: Command): CliContext {
  const o = cmd.optsWithGlobals<GlobalOptions>();
  const server = o.server ?? process.env.ROTA_SERVER ?? DEFAULT_SERVER;
  const token = o.token ?? (process.env.ROTA_TOKEN || undefined);
  return { api: new ApiClient(server, token), format: parseFormat(o.output) };
}

/** Waits `ms` (polling loops of the waiting commands). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
