/** The node and the cluster: probes, cluster view, members, and this API's OpenAPI document. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { openApiDocument } from './openapi.js';
import type { Native } from './native.js';

type Probe = () => Promise<{ ok: boolean; detail: Record<string, unknown> }>;

export function systemRoutes(r: Router, n: Native): void {
  const { deps } = n;

  /** 200 when ok, 503 otherwise (also when the probe itself fails; the reason goes to the log). */
  const probe = (check: Probe) => async (ctx: Context) => {
    let result: { ok: boolean; detail: Record<string, unknown> };
    try {
      result = await check();
    } catch (err) {
      deps.log.warn({ err, path: ctx.path }, 'probe failed');
      result = { ok: false, detail: { error: 'probe failed' } };
    }
    ctx.status = result.ok ? 200 : 503;
    ctx.body = { ok: result.ok, detail: result.detail };
  };
  r.get('/healthz', probe(() => deps.health()));
  r.get('/readyz', probe(() => deps.ready()));

  r.get('/api/v1/cluster', n.auth, async (ctx) => {
    ctx.body = await deps.cluster();
  });
  r.get('/api/v1/cluster/stats', n.auth, async (ctx) => {
    ctx.body = await deps.clusterOps.stats(deps.service.now());
  });
  r.get('/api/v1/nodes', n.auth, async (ctx) => {
    ctx.body = { items: await deps.nodes() };
  });

  // Prometheus scrapes without a token: counts only, nothing of any tenant's tasks.
  r.get('/metrics', async (ctx) => {
    if (!deps.metrics) {
      ctx.status = 404;
      return;
    }
    const m = await deps.metrics();
    ctx.type = m.contentType;
    ctx.body = m.body;
  });

  r.get('/api/v1/openapi.json', (ctx) => {
    ctx.body = openApiDocument();
  });
}
