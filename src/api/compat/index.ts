/**
 * The dialects: one folder per scheduler whose clients Rota answers (compat/meproc, ...).
 * Each exports a factory returning an ApiMount: its path prefixes, its router (translating
 * requests into TaskService calls) and its error envelope. They are mounted before the native
 * API, in this order: /proc (Meproc, seed 000), /crontab/* (seed 001), schedule-api's /put ... /clear (seed 002),
 * qschedule's /api2/* and /api/check/$ip.do (seed 004), Juice's /v1/tasks (seed 003).
 */
import type { ApiDeps } from '../deps.js';
import type { ApiMount } from '../mount.js';
import { meprocMount } from './meproc/index.js';
import { crontabMount } from './crontab/index.js';
import { scheduleApiMount } from './schedule-api/index.js';
import { qscheduleMount } from './qschedule/index.js';
import { juiceMount } from './juice/index.js';

export function dialectMounts(deps: ApiDeps): ApiMount[] {
  return [meprocMount(deps), crontabMount(deps), scheduleApiMount(deps), qscheduleMount(deps), juiceMount(deps)];
}
