/** Placeholder: the schedule-api dialect is being written. */
import Router from '@koa/router';
import type { ApiDeps } from '../../app.js';
import type { ApiMount } from '../../mount.js';
import { nativeEnvelope } from '../../errors.js';

export function scheduleApiMount(_deps: ApiDeps): ApiMount {
  return { name: 'schedule-api', prefixes: [], envelope: nativeEnvelope, router: new Router() };
}
