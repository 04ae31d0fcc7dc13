/** `rota serve`: its own flags, parsed with node:util parseArgs exactly as before the operator commands existed. */
import { parseArgs } from 'node:util';
import { SERVE_OPTIONS } from './serve-options.js';
import { loadConfig, ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import { RotaNode } from '../node.js';

const USAGE = `usage: rota serve [--config FILE] [--listen HOST:PORT] [--etcd URL,...] [--prefix /rota/]
                  [--data-dir DIR] [--node-id ID] [--advertise HOST:PORT] [--log-level LEVEL]
                  [--tokens TOKEN:TENANT,...] [--auth-required auto|true|false] [--alert-webhook URL]
Without --etcd (or ROTA_ETCD / etcd.endpoints) Rota spawns and owns one etcd member under the data dir.`;

/** `rota serve`: runs a node until SIGTERM/SIGINT (unchanged from before the operator CLI). */
export async function serve(): Promise<void> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: SERVE_OPTIONS });
  if (values.help || positionals[0] !== 'serve') {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  let cfg;
  try {
    cfg = loadConfig({ env: process.env, flags: values as Record<string, string | undefined> });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`rota: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger({ level: cfg.log.level });
  // A stray rejected promise is a bug to log, not a reason to drop every run in flight.
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled promise rejection'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception: exiting (the lease expires and the cluster takes over)');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 200).unref();
  });
  const node = new RotaNode(cfg, log);
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) {
      log.warn(`${sig} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    log.info({ signal: sig }, 'shutting down gracefully');
    node.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error({ err: err.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    await node.start();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`rota: ${e.message}`);
      await node.stop().catch(() => undefined);
      process.exit(2);
    }
    log.fatal({ err: (e as Error).message }, 'start failed');
    await node.stop().catch(() => undefined);
    process.exit(1);
  }
}

