/**
 * The dialects: one folder per scheduler whose clients Rota answers (compat/meproc, ...).
 * Each exports a factory returning an ApiMount: its path prefixes, its router (translating
 * requests into TaskService calls) and its error envelope. They are mounted before the native
 * API, in this order; none exists yet.
 */
import type { ApiDeps } from '../app.js';
import type { ApiMount } from '../mount.js';

export function dialectMounts(_deps: ApiDeps): ApiMount[] {
  return [];
}
