/** The audit log's records. */

/**
 * What an audit event records: a task's create ... kill, or an operation on a whole group
 * (a schedule-api identity): its upsert (`group-put`), enable/disable and delete; and `alert`,
 * written when a task failed policies.alertAfterFailures times in a row.
 */
export const AUDIT_ACTIONS = ['create', 'update', 'delete', 'pause', 'resume', 'trigger', 'kill', 'group-put', 'group-enable', 'group-disable', 'group-delete', 'alert'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export interface AuditEvent {
  id: string;
  tenant: string;
  atMs: number;
  action: AuditAction;
  /** Absent on group events. */
  taskId?: string;
  taskName?: string;
  group?: string;
  actor?: string;
  detail?: Record<string, unknown>;
}
