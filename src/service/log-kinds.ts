/**
 * One vocabulary for "which kinds of log entry": run states, run triggers and audit actions
 * (the three sets share no word). A run is included when some run state or trigger is asked
 * for and it matches every set given; an event when its action is asked for. No kinds: all.
 */
import { AUDIT_ACTIONS, type AuditAction } from '../domain/audit.js';
import { RotaError } from '../domain/errors.js';
import type { RunState, Trigger } from '../domain/task.js';
import type { LogQuery } from './run-log.js';

export const RUN_STATE_KINDS: readonly RunState[] = ['pending', 'running', 'succeeded', 'failed', 'killed', 'skipped', 'expired', 'lost'];
export const TRIGGER_KINDS: readonly Trigger[] = ['schedule', 'manual', 'retry', 'catch-up'];
export const LOG_KINDS: readonly string[] = [...RUN_STATE_KINDS, ...TRIGGER_KINDS, ...AUDIT_ACTIONS];

export function kindsFilter(kinds: string[]): Pick<LogQuery, 'runStates' | 'triggers' | 'events'> {
  const bad = kinds.filter((k) => !LOG_KINDS.includes(k));
  if (bad.length) throw new RotaError('INVALID_QUERY', `unknown kind '${bad[0]}': use run states (${RUN_STATE_KINDS.join(', ')}), triggers (${TRIGGER_KINDS.join(', ')}) or audit actions (${AUDIT_ACTIONS.join(', ')})`);
  if (!kinds.length) return {};
  const states = kinds.filter((k): k is RunState => (RUN_STATE_KINDS as string[]).includes(k));
  const triggers = kinds.filter((k): k is Trigger => (TRIGGER_KINDS as string[]).includes(k));
  const events = kinds.filter((k): k is AuditAction => (AUDIT_ACTIONS as readonly string[]).includes(k));
  const runs = states.length > 0 || triggers.length > 0;
  return {
    ...(runs ? (states.length ? { runStates: states } : {}) : { runStates: [] }),
    ...(triggers.length ? { triggers } : {}),
    events,
  };
}
