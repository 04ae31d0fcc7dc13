/** The native API's validators, compiled once from schemas.ts. */
import type { TaskInput as TaskInputT } from '../../service/task-input.js';
import type { TaskOrder } from '../../domain/task-order.js';
import { compileQueryValidator, compileValidator } from '../validate.js';
import * as S from './schemas.js';

export const validateTaskInput = compileValidator<TaskInputT>(S.TaskInput);
/** null values mean "back to the default" and still have to be turned into undefined. */
export const validateTaskPatch = compileValidator<{ [K in keyof TaskInputT]?: TaskInputT[K] | null }>(S.TaskPatch);
export const validateTrigger = compileValidator<{ params?: Record<string, unknown> }>(S.TriggerInput);

export const listTasksQuery = compileQueryValidator<{ name?: string; group?: string; enabled?: boolean; kind?: string; running?: boolean; lastOutcome?: string; limit: number; after?: string; sort: TaskOrder; offset: number }>(S.ListTasksQuery);
export const listRunsQuery = compileQueryValidator<{ limit: number; cursor?: string }>(S.ListRunsQuery);
export const runOutputQuery = compileQueryValidator<{ follow: boolean; download: boolean }>(S.RunOutputQuery);
export const listEventsQuery = compileQueryValidator<{ limit: number; before?: string; taskId?: string }>(S.ListEventsQuery);
export const inflightQuery = compileQueryValidator<{ host: string }>(S.InflightQuery);
export const logQuery = compileQueryValidator<{ taskId?: string; group?: string; kinds?: string; node?: string; from?: number; to?: number; offset: number; limit: number }>(S.LogQuery);
