/** Placeholder: the crontab dialect is being written. */
import Router from '@koa/router';
import type { ApiDeps } from '../../app.js';
import type { ApiMount } from '../../mount.js';
import { nativeEnvelope } from '../../errors.js';

export function crontabMount(_deps: ApiDeps): ApiMount {
  return { name: 'crontab', prefixes: [], envelope: nativeEnvelope, router: new Router() };
}
