/**
 * The web dashboard at /ui: static ES modules from src/api/ui/static (read from the source tree
 * at run time, so `make build` needs no copy step) and the browser builds of preact and htm
 * served from node_modules under /ui/vendor/. The page talks to the native API like any client.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import type { Context } from 'koa';
import { RotaError } from '../../domain/errors.js';
import { nativeEnvelope } from '../errors.js';
import type { ApiMount } from '../mount.js';

export const UI_PREFIX = '/ui';

/** The packages the page imports, by the name its import map uses. */
const VENDORED = ['preact', 'htm'];

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** The package root: the nearest folder above this module with package.json (src/ or dist/src/ alike). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'src', 'api', 'ui', 'static'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find src/api/ui/static above the dashboard module');
    dir = up;
  }
  return dir;
}

function vendorDirs(root: string): Record<string, string> {
  const req = createRequire(join(root, 'package.json'));
  const out: Record<string, string> = {};
  for (const name of VENDORED) {
    // Some packages do not export ./package.json: find the folder from the main entry instead.
    let file: string;
    try {
      file = req.resolve(`${name}/package.json`);
    } catch {
      file = req.resolve(name);
      while (!existsSync(join(dirname(file), 'package.json'))) file = dirname(file);
      file = join(dirname(file), 'package.json');
    }
    JSON.parse(readFileSync(file, 'utf8'));
    out[name] = dirname(file);
  }
  return out;
}

/** `rel` inside `base`, or null when it would escape it. */
function inside(base: string, rel: string): string | null {
  const full = resolve(base, `.${sep}${rel}`);
  return full === base || full.startsWith(base + sep) ? full : null;
}

async function sendFile(ctx: Context, file: string | null, cache: string): Promise<void> {
  const type = file ? TYPES[extname(file)] : undefined;
  const st = file && type ? await stat(file).catch(() => null) : null;
  if (!file || !type || !st?.isFile()) throw new RotaError('NOT_FOUND', `no such file: ${ctx.path}`);
  ctx.type = type;
  ctx.set('Cache-Control', cache);
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.body = await readFile(file);
}

export function uiMount(): ApiMount {
  const root = packageRoot();
  const staticDir = join(root, 'src', 'api', 'ui', 'static');
  const vendor = vendorDirs(root);
  const router = new Router();

  // The router is not strict about a trailing slash, so /ui and /ui/ both land here; the page's
  // relative module URLs need the slash.
  router.get([UI_PREFIX, `${UI_PREFIX}/`], (ctx) => (ctx.path === UI_PREFIX ? ctx.redirect(`${UI_PREFIX}/`) : sendFile(ctx, join(staticDir, 'index.html'), 'no-cache')));
  router.get(`${UI_PREFIX}/vendor/:pkg/:rest(.*)`, (ctx) => {
    const { pkg, rest } = (ctx as unknown as { params: Record<string, string> }).params;
    const dir = vendor[pkg ?? ''];
    return sendFile(ctx, dir ? inside(dir, rest ?? '') : null, 'public, max-age=3600');
  });
  router.get(`${UI_PREFIX}/:file(.*)`, (ctx) => {
    const { file } = (ctx as unknown as { params: Record<string, string> }).params;
    return sendFile(ctx, inside(staticDir, file ?? ''), 'no-cache');
  });
  return { name: 'ui', prefixes: [UI_PREFIX], envelope: nativeEnvelope, router };
}
