/**
 * The dashboard of a three-node cluster behind HAProxy, as an operator opens it after
 * `make cluster`: every refresh may be answered by another node, and the cluster page's counters
 * (GET /api/v1/cluster/stats, summed over the live nodes) never go backwards between two of
 * them. Writes docs/ui/cluster-three.png and nodes-three.png with `make ui`.
 */
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotDir } from '../support/browser.js';
import { TestCluster } from '../support/cluster.js';
import { startHaproxy, type LoadBalancer } from '../support/haproxy.js';
import { waitFor } from '../support/etcd.js';

const SHOTS = screenshotDir();

describe('web dashboard of a three-node cluster behind HAProxy (headless Chromium)', function () {
  this.timeout(180_000);
  let c: TestCluster;
  let lb: LoadBalancer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    c = await TestCluster.start();
    lb = await startHaproxy(c.nodes.map((n) => ({ id: n.id, port: n.port })));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));
  });

  after(async () => {
    await browser?.close();
    await lb?.stop();
    await c?.stop();
  });

  it("the cluster page's counters never go backwards while the load balancer sends each refresh to another node", async () => {
    for (let i = 0; i < 3; i++) {
      const r = await c.api('POST', '/api/v1/tasks', { name: `tick-${i}`, schedule: { cron: '* * * * * *', tz: 'UTC' }, action: { process: { command: 'true' } } });
      expect(r.status).to.equal(201);
    }
    await page.goto(`${lb.url}/ui/#/`);
    await page.locator('#leader', { hasText: /^n[123]$/ }).waitFor({ timeout: 30_000 });
    await waitFor(async () => Number(await page.textContent('[data-stat=succeeded] .stat-value')) > 0, 'runs counted', 30_000);
    const read = async () => ({
      by: await page.textContent('#served-by'),
      planned: Number(await page.textContent('[data-stat=planned] .stat-value')),
      succeeded: Number(await page.textContent('[data-stat=succeeded] .stat-value')),
    });
    const seen: { by: string | null; planned: number; succeeded: number }[] = [await read()];
    // The page refreshes every 1.5 s; a reload starts it afresh (on whichever node HAProxy picks).
    for (let i = 0; i < 40; i++) {
      if (i % 10 === 9) {
        await page.reload();
        await page.locator('[data-stat=planned] .stat-value').waitFor();
      }
      await new Promise((r) => setTimeout(r, 400));
      seen.push(await read());
    }
    const by = new Set(seen.map((s) => s.by));
    expect(by.size, `answered by ${[...by].join(', ')}`).to.be.at.least(2);
    for (let i = 1; i < seen.length; i++) {
      const [a, b] = [seen[i - 1]!, seen[i]!];
      expect(b.planned, `planned went from ${a.planned} (${a.by}) to ${b.planned} (${b.by})`).to.be.at.least(a.planned);
      expect(b.succeeded, `succeeded went from ${a.succeeded} (${a.by}) to ${b.succeeded} (${b.by})`).to.be.at.least(a.succeeded);
    }
    expect(seen.at(-1)!.planned).to.be.above(seen[0]!.planned);
    expect(await page.locator('#stats-missing').count(), 'every node counted').to.equal(0);
    await page.screenshot({ path: `${SHOTS}cluster-three.png`, fullPage: true });

    await page.goto(`${lb.url}/ui/#/nodes`);
    for (const id of ['n1', 'n2', 'n3']) await page.locator(`#nodes-table tr[data-node=${id}]`).waitFor();
    expect(await page.locator('#nodes-table [data-leader]').count()).to.equal(1);
    await page.screenshot({ path: `${SHOTS}nodes-three.png`, fullPage: true });
    expect(pageErrors, 'errors in the page').to.deep.equal([]);
  });
});
