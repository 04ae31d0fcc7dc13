/** The native API's records as far as the CLI reads them (docs/api.md has every field). */

import { FINAL_RUN_STATES, type Run } from '../domain/task.js';

/** Fields of a task the server makes or the list adds (not input): an export leaves them out, add and import drop them. */
export { SERVER_FIELDS } from '../api/native/presenter.js';

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

/** A run as the API sends it: the domain's record, with state and trigger as text (a newer server may name more). */
export type ApiRun = Pick<Run, 'id' | 'taskId' | 'attempt' | 'replica' | 'node' | 'scheduledMs' | 'startedMs' | 'endedMs' | 'exitCode' | 'httpStatus' | 'message' | 'outputTail'> & {
  state: string;
  trigger: string;
};

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

export const FINAL_STATES: readonly string[] = FINAL_RUN_STATES;
