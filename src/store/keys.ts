/**
 * The key layout, relative to the configured prefix (default "/rota/"). Every key Rota
 * writes is built here; docs/architecture.md describes each one.
 *
 *   seq/task                         last task id handed out (numeric)
 *   tasks/{id}                       task definition (JSON)
 *   names/{tenant}/{name}            -> task id (unique name per tenant)
 *   cursors/{id}                     schedule cursor: last scheduled ms (only moves forward)
 *   firings/{id}/{ms}                one firing: identity (task, scheduled ms); deleted when done
 *   inbox/{node}/f/{id}/{ms}         assignment of a firing to a node incarnation
 *   inbox/{node}/k/{runId}           kill request for a run on that node
 *   triggers/{id}/{ms}               manual trigger request, turned into a firing by the leader
 *   runs/{id}/{ms}-{attempt}         run record per attempt
 *   events/{tenant}/{ms}-{seq}       audit log
 *   nodes/{node}                     membership record under the node's lease
 *   drain/{node}                     operator's drain request (sticky until undrain)
 *   election/{leaseHex}              leadership candidates; lowest create revision leads
 */
export const pad = (ms: number, width = 13): string => String(Math.max(0, Math.floor(ms))).padStart(width, '0');

export const K = {
  taskSeq: 'seq/task',
  tasks: 'tasks/',
  task: (id: string) => `tasks/${id}`,
  names: (tenant: string) => `names/${encodeURIComponent(tenant)}/`,
  name: (tenant: string, name: string) => `names/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}`,
  cursors: 'cursors/',
  cursor: (id: string) => `cursors/${id}`,
  firings: 'firings/',
  taskFirings: (id: string) => `firings/${id}/`,
  firing: (id: string, ms: number) => `firings/${id}/${pad(ms)}`,
  inbox: (node: string) => `inbox/${node}/`,
  assignment: (node: string, id: string, ms: number) => `inbox/${node}/f/${id}/${pad(ms)}`,
  killRequest: (node: string, runId: string) => `inbox/${node}/k/${runId}`,
  triggers: 'triggers/',
  trigger: (id: string, ms: number) => `triggers/${id}/${pad(ms)}`,
  taskRuns: (id: string) => `runs/${id}/`,
  run: (id: string, ms: number, attempt: number) => `runs/${id}/${pad(ms)}-${pad(attempt, 3)}`,
  runs: 'runs/',
  tenantEvents: (tenant: string) => `events/${encodeURIComponent(tenant)}/`,
  events: 'events/',
  nodes: 'nodes/',
  node: (id: string) => `nodes/${id}`,
  election: 'election/',
  drain: (id: string) => `drain/${id}`,
} as const;

/** Run ids are "{taskId}-{scheduledMs}-{attempt}": addressable without an index. */
export function runId(taskId: string, scheduledMs: number, attempt: number): string {
  return `${taskId}-${scheduledMs}-${attempt}`;
}

export function parseRunId(id: string): { taskId: string; scheduledMs: number; attempt: number } | null {
  const m = /^(\d+)-(\d+)-(\d+)$/.exec(id);
  if (!m) return null;
  return { taskId: m[1]!, scheduledMs: Number(m[2]), attempt: Number(m[3]) };
}

/** The (task, ms) a firing or assignment key names. */
export function parseFiringKey(key: string): { taskId: string; scheduledMs: number } | null {
  const m = /(?:^|\/)(\d+)\/(\d{13,})$/.exec(key);
  if (!m) return null;
  return { taskId: m[1]!, scheduledMs: Number(m[2]) };
}
