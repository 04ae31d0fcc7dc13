import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * What never reaches a log line, wherever it is logged from: API tokens (the keys of
 * auth.tokens, so the whole map), the etcd password, and credential headers. A config logged
 * whole (as `config` or `cfg`, or at the top level) and request headers (as `headers`,
 * `req.headers` or `request.headers`) are covered.
 */
export const REDACT_PATHS: string[] = (() => {
  const configPaths = ['auth.tokens', 'etcd.auth.password'];
  const headerNames = ['authorization', '"q-server-token"', 'cookie', '"proxy-authorization"', '"x-rota-token"'];
  const paths = [...configPaths];
  for (const at of ['config', 'cfg']) for (const p of configPaths) paths.push(`${at}.${p}`);
  for (const at of ['headers', 'req.headers', 'request.headers', 'err.headers']) for (const h of headerNames) paths.push(h.startsWith('"') ? `${at}[${h}]` : `${at}.${h}`);
  paths.push('tokens', 'token', 'password', '*.token', '*.password', '*.tokens');
  return paths;
})();

/** pino JSON logs; pretty when stdout is a terminal (or ROTA_LOG_PRETTY=1). `destination` (tests) captures the lines. */
export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const pretty = !opts.destination && (process.env.ROTA_LOG_PRETTY === '1' || (process.stdout.isTTY && process.env.ROTA_LOG_PRETTY !== '0'));
  const options = {
    level: opts.level ?? process.env.ROTA_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'rota',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export const silentLogger: Logger = pino({ level: 'silent' });
