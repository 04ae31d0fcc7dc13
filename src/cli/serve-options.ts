/** `rota serve`'s flags (node:util parseArgs), apart so the operator commands need not load the node. */
import type { ParseArgsConfig } from 'node:util';

export const SERVE_OPTIONS = {
  config: { type: 'string' }, listen: { type: 'string' }, port: { type: 'string' }, etcd: { type: 'string' },
  prefix: { type: 'string' }, 'data-dir': { type: 'string' }, 'node-id': { type: 'string' }, advertise: { type: 'string' },
  'log-level': { type: 'string' }, tokens: { type: 'string' }, 'auth-required': { type: 'string' },
  'etcd-client-port': { type: 'string' }, 'etcd-peer-port': { type: 'string' }, 'alert-webhook': { type: 'string' }, help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];
