/** The native API's records as far as the CLI reads them (docs/api.md has every field). */

export interface ApiTask {
  id: string;
  name: string;
  group?: string;
  enabled: boolean;
  schedule: Record<string, unknown>;
  action: Record<string, unknown>;
  replicas?: number;
  policies?: Record<string, unknown>;
  labels?: Record<string, string>;
  [field: string]: unknown;
}

export interface ApiRun {
  id: string;
  taskId: string;
  replica?: number;
  state: string;
  trigger: string;
  node?: string;
  scheduledMs: number;
  startedMs?: number;
  endedMs?: number;
  exitCode?: number;
  httpStatus?: number;
  message?: string;
  outputTail?: string;
}

export interface Page<T> {
  items: T[];
  next?: string;
}

export interface LogPage {
  total: number;
  items: ({ kind: 'run'; atMs: number; run: ApiRun; task: { id: string; name: string; group?: string } } | { kind: 'event'; atMs: number })[];
}

export interface InflightEntry {
  runId?: string;
  taskId?: string;
  node?: string;
  state?: string;
  scheduledMs?: number;
  startedMs?: number;
  [field: string]: unknown;
}

export const FINAL_STATES = ['succeeded', 'failed', 'killed', 'skipped', 'expired', 'lost'];
