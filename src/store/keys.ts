/**
 * The key layout, relative to the configured prefix (default "/rota/"). Every key Rota
 * writes is built here; docs/architecture.md describes each one.
 *
 *   seq/task                         last task id handed out (numeric)
 *   tasks/{id}                       task definition (JSON)
 *   names/{tenant}/{name}            -> task id (unique name per tenant)
 *   cursors/{id}                     schedule cursor: last scheduled ms (only moves forward)
 *   firings/{id}/{ms}[.r]            one firing: identity (task, scheduled ms, replica); deleted when done
 *   plans/{ms}-{tag}                 firings planned ahead with their candidates (v2), packed; {ms}: the newest in it
 *   plans-settled                    the leader's mark: every planned instant before it was claimed or looked after (v2)
 *   inbox/{node}/f/{id}/{ms}[.r]     assignment of a firing to a node incarnation
 *   inbox/{node}/k/{runId}           kill request for a run on that node
 *   triggers/{id}/{ms}               manual trigger request, turned into a firing by the leader
 *   runs/{id}/{ms}-{attempt6}[.r]    run record per attempt (per replica)
 *   events/{tenant}/{ms}-{seq}       audit log
 *   alerts/{id}                      the failure streak last alerted about (its first run id)
 *   nodes/{node}                     membership record under the node's lease
 *   drain/{node}                     operator's drain request (sticky until undrain)
 *   election/{leaseHex}              leadership candidates; lowest create revision leads
 *   clocks/{node}                    the node's clock reading and its offset from the cluster's median, under its lease
 */
/** A value as read from etcd, with the revision a compare-and-swap on it compares. */
export interface Versioned<T> {
  value: T;
  modRevision: number;
}

export const pad = (ms: number, width = 13): string => String(Math.max(0, Math.floor(ms))).padStart(width, '0');

/** Replica 0 (and every single-replica task) has no suffix; replica r > 0 adds ".r". */
const rep = (replica: number): string => (replica > 0 ? `.${replica}` : '');

export const K = {
  taskSeq: 'seq/task',
  tasks: 'tasks/',
  task: (id: string) => `tasks/${id}`,
  names: (tenant: string) => `names/${encodeURIComponent(tenant)}/`,
  name: (tenant: string, name: string) => `names/${encodeURIComponent(tenant)}/${encodeURIComponent(name)}`,
  cursors: 'cursors/',
  clocks: 'clocks/',
  clock: (node: string) => `clocks/${encodeURIComponent(node)}`,
  cursor: (id: string) => `cursors/${id}`,
  firings: 'firings/',
  taskFirings: (id: string) => `firings/${id}/`,
  firing: (id: string, ms: number, replica = 0) => `firings/${id}/${pad(ms)}${rep(replica)}`,
  /** A firing's key below `firings/` ("{task}/{ms}[.r]"): how the leader's view names it. */
  firingId: (id: string, ms: number, replica = 0) => `${id}/${pad(ms)}${rep(replica)}`,
  plans: 'plans/',
  /** A chunk of planned firings; named by its newest instant, so old chunks go in one range delete. */
  planChunk: (newestMs: number, tag: string) => `plans/${pad(newestMs)}-${tag}`,
  /** The newest instant of a chunk, from its key (NaN for a key that is not a chunk's). */
  chunkNewestMs: (key: string) => (key.startsWith('plans/') ? Number(key.slice(6, 19)) : NaN),
  /** Outside `plans/` (the candidates watch that prefix, the prune deletes ranges of it). */
  plansSettled: 'plans-settled',
  inbox: (node: string) => `inbox/${node}/`,
  assignment: (node: string, id: string, ms: number, replica = 0) => `inbox/${node}/f/${id}/${pad(ms)}${rep(replica)}`,
  killRequest: (node: string, runId: string) => `inbox/${node}/k/${runId}`,
  triggers: 'triggers/',
  trigger: (id: string, ms: number) => `triggers/${id}/${pad(ms)}`,
  taskTriggers: (id: string) => `triggers/${id}/`,
  taskRuns: (id: string) => `runs/${id}/`,
  run: (id: string, ms: number, attempt: number, replica = 0) => `runs/${id}/${pad(ms)}-${pad(attempt, 6)}${rep(replica)}`,
  runs: 'runs/',
  tenantEvents: (tenant: string) => `events/${encodeURIComponent(tenant)}/`,
  events: 'events/',
  alert: (id: string) => `alerts/${id}`,
  nodes: 'nodes/',
  node: (id: string) => `nodes/${id}`,
  election: 'election/',
  drain: (id: string) => `drain/${id}`,
} as const;

/**
 * Run ids are "{taskId}-{scheduledMs}-{attempt}" (plus "-r{replica}" for replicas > 0):
 * addressable without an index.
 */
export function parseRunId(id: string): { taskId: string; scheduledMs: number; attempt: number; replica: number } | null {
  const m = /^(\d+)-(\d+)-(\d+)(?:-r(\d+))?$/.exec(id);
  if (!m) return null;
  return { taskId: m[1]!, scheduledMs: Number(m[2]), attempt: Number(m[3]), replica: Number(m[4] ?? 0) };
}

/** The (task, ms, replica) a firing or assignment key names. */
export function parseFiringKey(key: string): { taskId: string; scheduledMs: number; replica: number } | null {
  const m = /(?:^|\/)(\d+)\/(\d{13,})(?:\.(\d+))?$/.exec(key);
  if (!m) return null;
  return { taskId: m[1]!, scheduledMs: Number(m[2]), replica: Number(m[3] ?? 0) };
}

/** What a key below a node's inbox (`inbox/{node}/`) is: an assignment or a kill request. */
export function parseInboxKey(rel: string): { kind: 'assignment'; firingId: string } | { kind: 'kill'; runId: string } | null {
  if (rel.startsWith('f/')) return { kind: 'assignment', firingId: rel.slice(2) };
  if (rel.startsWith('k/')) return { kind: 'kill', runId: rel.slice(2) };
  return null;
}
