import { pino, type Logger } from 'pino';

export type { Logger };

/** pino JSON logs; pretty when stdout is a terminal (or ROTA_LOG_PRETTY=1). */
export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  const pretty = process.env.ROTA_LOG_PRETTY === '1' || (process.stdout.isTTY && process.env.ROTA_LOG_PRETTY !== '0');
  return pino({
    level: opts.level ?? process.env.ROTA_LOG_LEVEL ?? 'info',
    name: opts.name ?? 'rota',
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}

export const silentLogger: Logger = pino({ level: 'silent' });
