/**
 * The web dashboard end to end: a real node on a real etcd, the page in headless Chromium
 * (Debian's /usr/bin/chromium driven by playwright-core). Creates a task through the form (a bad
 * cron first, refused inline), watches it fire, reads a run's output, follows a retry, pauses,
 * resumes, triggers, deletes, drains and undrains the node, and signs in with a token. Writes the
 * screenshots docs/ui.md shows to docs/ui/*.png.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, screenshotDir } from '../support/browser.js';
import { DEFAULTS } from '../../src/config.js';
import type { RotaNode } from '../../src/node.js';
import { freshEtcd, waitFor } from '../support/etcd.js';
import { api, startNode } from '../support/node.js';

const SHOTS = screenshotDir();

describe('web dashboard in headless Chromium', function () {
  this.timeout(120_000);
  let browser: Browser;
  let node: RotaNode;
  let page: Page;
  let base: string;
  const pageErrors: string[] = [];
  const offsite: string[] = [];

  before(async () => {
    const { endpoint, prefix } = await freshEtcd();
    node = await startNode(endpoint, prefix);
    base = `http://127.0.0.1:${node.port}`;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('dialog', (d) => void d.accept());
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    // An API refusal the page shows (the bad cron's 400) is logged by Chromium as a failed load: not an error of the page.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && pageErrors.push(m.text()));
    page.on('request', (r) => !r.url().startsWith(base) && offsite.push(r.url()));
  });

  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  afterEach(() => {
    expect(pageErrors, 'errors in the page').to.deep.equal([]);
    expect(offsite, 'requests that left the node').to.deep.equal([]);
  });

  const rows = (sel: string) => page.locator(sel);
  const taskByName = async (name: string) => (await api(node, 'GET', `/api/v1/tasks?name=${name}`)).body.items.find((t: { name: string }) => t.name === name);

  it('serves the page, its modules and the vendored preact and htm, and nothing outside them', async () => {
    const r = await fetch(`${base}/ui`, { redirect: 'manual' });
    expect(r.status).to.equal(302);
    expect(r.headers.get('location')).to.equal('/ui/');
    const index = await fetch(`${base}/ui/`);
    expect(index.headers.get('content-type')).to.match(/text\/html/);
    for (const path of ['/ui/app.js', '/ui/style.css', '/ui/vendor/preact/dist/preact.module.js', '/ui/vendor/preact/hooks/dist/hooks.module.js', '/ui/vendor/htm/dist/htm.module.js']) {
      expect((await fetch(`${base}${path}`)).status, path).to.equal(200);
    }
    for (const path of ['/ui/vendor/left-pad/index.js', '/ui/vendor/preact/package.json', '/ui/%2e%2e/index.ts', '/ui/vendor/preact/%2e%2e/%2e%2e/package.json', '/ui/nope.js']) {
      expect((await fetch(`${base}${path}`)).status, path).to.equal(404);
    }
  });

  it('creates a task through the form: a bad cron is refused next to the schedule field, then it fires and its output shows', async () => {
    await page.goto(`${base}/ui/#/tasks`);
    await page.locator('#task-table').waitFor();
    await page.click('#new-task');
    await page.fill('#task-form input[name=name]', 'hello-dashboard');
    await page.fill('#task-form input[name=group]', 'demo');
    await page.fill('#task-form input[name=cron]', '*/2 * * *');
    await page.fill('#task-form input[name=tz]', 'UTC');
    await page.fill('#task-form input[name=command]', 'echo hello from the dashboard; echo second line');
    await page.click('#task-form button[type=submit]');
    const err = page.locator('[data-error-for=schedule]');
    await err.waitFor();
    expect(await err.textContent()).to.contain('cron expression must have 5 or 6 fields, got 4');
    expect(await taskByName('hello-dashboard')).to.equal(undefined);

    await page.fill('#task-form input[name=cron]', '*/2 * * * * *');
    await page.click('#task-form button[type=submit]');
    await page.locator('#task-page[data-task=hello-dashboard]').waitFor();
    expect(await page.textContent('#schedule-words')).to.equal('every 2 seconds (UTC)');

    // It fires: a succeeded run appears without reloading, and its output reads back.
    const done = rows('#runs-table tr[data-state=succeeded]').first();
    await done.waitFor({ timeout: 20_000 });
    await done.click();
    await page.locator('#run-output pre', { hasText: 'hello from the dashboard' }).waitFor();
    expect(await page.textContent('#run-output pre')).to.contain('second line');
    // "Why did this not run?": the instants of the last hour with their outcome, the one that ran included.
    await page.locator('#slots li[data-outcome=succeeded]').first().waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${SHOTS}task.png`, fullPage: true });
  });

  it('shows the next firing instants the server computes with the scheduler, in the task zone', async () => {
    const t = await taskByName('hello-dashboard');
    const next = (await api(node, 'GET', `/api/v1/tasks/${t.id}/next?count=5`)).body;
    expect(next.tz).to.equal('UTC');
    expect(next.items).to.have.length(5);
    for (const [i, it] of next.items.entries()) {
      expect(it.ms % 2000).to.equal(0);
      if (i) expect(it.ms - next.items[i - 1].ms).to.equal(2000);
    }
    // The page lists five instants two seconds apart, shown in UTC.
    const shown = await page.locator('#next-firings li').evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-ms')), e.textContent]));
    expect(shown).to.have.length(5);
    const first = shown[0]!;
    expect(new Date(first[0] as number).toISOString().slice(11, 19)).to.equal(String(first[1]).slice(11, 19));
    expect((await api(node, 'GET', '/api/v1/tasks/999999/next')).status).to.equal(404);
    expect((await api(node, 'GET', `/api/v1/tasks/${t.id}/next?count=0`)).status).to.equal(400);
  });

  it('edits a task through the same form (PUT), keeping what the form does not show', async () => {
    await page.click('#edit-task');
    await page.locator('#task-form input[name=name]').waitFor();
    await page.fill('#task-form input[name=group]', 'demo-edited');
    await page.fill('#task-form textarea[name=extra]', '{"policies": {"retry": {"max": "x"}}}');
    await page.click('#task-form button[type=submit]');
    expect(await page.locator('[data-error-for=extra]').textContent()).to.contain('policies.retry.max');
    await page.fill('#task-form textarea[name=extra]', '{"labels": {"owner": "ops"}}');
    await page.click('#task-form button[type=submit]');
    await page.locator('#task-page[data-task=hello-dashboard]').waitFor();
    const t = await taskByName('hello-dashboard');
    expect(t.group).to.equal('demo-edited');
    expect(t.labels).to.deep.equal({ owner: 'ops' });
    expect(t.schedule).to.deep.equal({ cron: '*/2 * * * * *', tz: 'UTC' });
  });

  it('pauses, resumes and triggers from the task page, and links a retry to its firing', async () => {
    await page.click('#pause');
    await page.locator('#task-page [data-state=paused]').waitFor();
    expect((await taskByName('hello-dashboard')).enabled).to.equal(false);
    await page.click('#resume');
    await page.locator('#task-page [data-state=enabled]').waitFor();
    expect((await taskByName('hello-dashboard')).enabled).to.equal(true);
    await page.click('#trigger');
    await rows('#runs-table tr[data-trigger=manual]').first().waitFor();

    // A failing task with one retry: attempt 2 is listed under attempt 1's firing.
    const flaky = await api(node, 'POST', '/api/v1/tasks', { name: 'flaky-import', group: 'imports', schedule: { manual: true }, action: { process: { command: 'echo importing; exit 3' } }, policies: { retry: { delaysMs: [200] } } });
    expect(flaky.status).to.equal(201);
    await api(node, 'POST', `/api/v1/tasks/${flaky.body.id}/trigger`);
    await page.goto(`${base}/ui/#/tasks/${flaky.body.id}`);
    const retry = rows('#runs-table tr.retry[data-attempt="2"][data-state=failed]');
    await retry.waitFor({ timeout: 20_000 });
    expect(await retry.textContent()).to.contain('after #1 failed');
    const first = rows('#runs-table tr.firing[data-attempt="1"]');
    expect(await first.getAttribute('data-run')).to.equal(`${flaky.body.id}-${(await retry.getAttribute('data-run'))!.split('-')[1]}-1`);
  });

  it("shows a failed run's output and its retry; a run's whole output past the record's tail, downloadable", async () => {
    const flaky = await taskByName('flaky-import');
    await page.goto(`${base}/ui/#/tasks/${flaky.id}`);
    await rows('#runs-table tr.retry[data-state=failed]').click();
    await page.locator('#run-output pre', { hasText: 'importing' }).waitFor();
    await page.screenshot({ path: `${SHOTS}task-failed.png`, fullPage: true });

    // 3,000 lines (~26 KiB): the record keeps the last 4 KiB; the page reads the whole file from the node.
    const long = await api(node, 'POST', '/api/v1/tasks', { name: 'long-output', schedule: { manual: true }, action: { process: { command: 'seq -f "line %g" 1 3000' } } });
    const { runId } = (await api(node, 'POST', `/api/v1/tasks/${long.body.id}/trigger`)).body;
    await waitFor(async () => (await api(node, 'GET', `/api/v1/runs/${runId}`)).body.state === 'succeeded', 'the long run to end');
    await page.goto(`${base}/ui/#/tasks/${long.body.id}`);
    await rows(`#runs-table tr[data-run="${runId}"]`).click();
    await page.locator('#run-output[data-source=file] pre', { hasText: 'line 3000' }).waitFor();
    expect(await page.textContent('#run-output pre')).to.match(/^line 1\nline 2\n/);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#download-output')]);
    expect(dl.suggestedFilename()).to.equal(`${runId}.log`);
    const saved = await dl.path();
    expect(readFileSync(saved!, 'utf8')).to.equal(Array.from({ length: 3000 }, (_, i) => `line ${i + 1}\n`).join(''));
  });

  it('follows a live run\'s output and kills it; restarts one daemon replica', async () => {
    const gate = join(mkdtempSync(join(tmpdir(), 'rota-ui-')), 'go-on');
    const live = await api(node, 'POST', '/api/v1/tasks', { name: 'live-output', schedule: { manual: true }, action: { process: { command: `echo first line; while [ ! -e '${gate}' ]; do sleep 0.05; done; echo second line; sleep 600` } } });
    const { runId } = (await api(node, 'POST', `/api/v1/tasks/${live.body.id}/trigger`)).body;
    await page.goto(`${base}/ui/#/tasks/${live.body.id}`);
    await rows(`#runs-table tr[data-run="${runId}"][data-state=running]`).click();
    await page.locator('#run-output #output-live').waitFor();
    await page.locator('#run-output pre', { hasText: 'first line' }).waitFor();
    writeFileSync(gate, '');
    // What it writes next appears without a reload or a poll: the answer is still open.
    await page.locator('#run-output pre', { hasText: 'second line' }).waitFor();
    await page.click('#kill-run');
    await rows(`#runs-table tr[data-run="${runId}"][data-state=killed]`).waitFor({ timeout: 15_000 });

    const d = await api(node, 'POST', '/api/v1/tasks', { name: 'web-daemon', schedule: { daemon: true }, replicas: 2, action: { process: { command: 'echo serving $ROTA_RUN_ID; sleep 600' } } });
    await page.goto(`${base}/ui/#/tasks/${d.body.id}`);
    const r1 = rows('#replicas-table tr[data-replica="1"]');
    await r1.locator('.restart-replica').waitFor({ timeout: 15_000 });
    const before = await r1.getAttribute('data-run');
    await r1.click();
    await page.locator('#run-output pre', { hasText: `serving ${before}` }).waitFor();
    const other = await rows('#replicas-table tr[data-replica="0"]').getAttribute('data-run');
    await r1.locator('.restart-replica').click();
    await waitFor(async () => {
      const now = await r1.getAttribute('data-run');
      return now !== before && (await r1.locator('.restart-replica').count()) === 1;
    }, 'replica 1 running again as its next attempt', 15_000);
    expect(await rows('#replicas-table tr[data-replica="0"]').getAttribute('data-run'), 'replica 0 untouched').to.equal(other);
    await page.screenshot({ path: `${SHOTS}daemon.png`, fullPage: true });
    await api(node, 'DELETE', `/api/v1/tasks/${d.body.id}`);
  });

  it('history: runs across tasks filtered and paged on the server, the audit log, what fires next', async () => {
    await page.goto(`${base}/ui/#/history`);
    await rows('#history-table tr[data-run]').first().waitFor();
    expect(await page.textContent('#history-count')).to.match(/^1–\d+ of \d+$/);
    await page.selectOption('#history-filters select[name=state]', 'failed');
    await page.click('#history-filters button[type=submit]');
    await waitFor(async () => {
      const states = await rows('#history-table tr[data-run]').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')));
      return states.length > 0 && states.every((x) => x === 'failed');
    }, 'only failed runs');
    expect(await rows('#history-table tr[data-task=flaky-import]').count()).to.be.at.least(2);
    await page.selectOption('#history-filters select[name=state]', '');
    await page.fill('#history-filters input[name=task]', 'hello-dashboard');
    await page.click('#history-filters button[type=submit]');
    await waitFor(async () => {
      const tasks = await rows('#history-table tr[data-run]').evaluateAll((els) => els.map((e) => e.getAttribute('data-task')));
      return tasks.length > 0 && tasks.every((x) => x === 'hello-dashboard');
    }, "only hello-dashboard's runs");
    // Server-side paging: 55 runs of one task are more than a page of 50.
    const many = await api(node, 'POST', '/api/v1/tasks', { name: 'many-runs', schedule: { manual: true }, action: { process: { command: 'true' } } });
    for (let i = 0; i < 55; i++) expect((await api(node, 'POST', `/api/v1/tasks/${many.body.id}/trigger`)).status).to.equal(202);
    await waitFor(async () => (await api(node, 'GET', `/api/v1/log?taskId=${many.body.id}&kinds=succeeded&limit=1`)).body.total === 55, '55 runs recorded', 60_000, 250);
    await page.fill('#history-filters input[name=task]', 'many-runs');
    await page.click('#history-filters button[type=submit]');
    await page.locator('#history-count', { hasText: '1–50 of 55' }).waitFor();
    const firstPage = await rows('#history-table tr[data-run]').first().getAttribute('data-run');
    await page.click('#older');
    await page.locator('#history-count', { hasText: '51–55 of 55' }).waitFor();
    expect(await rows('#history-table tr[data-run]').count()).to.equal(5);
    expect(await rows('#history-table tr[data-run]').first().getAttribute('data-run')).to.not.equal(firstPage);
    expect(await page.locator('#older').isDisabled()).to.equal(true);
    await page.locator('#upcoming li[data-task=hello-dashboard]').first().waitFor();
    await page.fill('#history-filters input[name=task]', '');
    await page.click('#history-filters button[type=submit]');
    await page.screenshot({ path: `${SHOTS}history.png`, fullPage: true });

    await page.click('#audit-tab');
    // The 55 triggers above fill the first page; the action filter finds the creates.
    await rows('#audit-table tr[data-action=trigger][data-task=many-runs]').first().waitFor();
    await page.selectOption('#history-filters select[name=action]', 'create');
    await page.click('#history-filters button[type=submit]');
    await rows('#audit-table tr[data-action=create][data-task=hello-dashboard]').waitFor();
    await page.screenshot({ path: `${SHOTS}audit.png`, fullPage: true });
    await page.selectOption('#history-filters select[name=action]', 'kill');
    await page.click('#history-filters button[type=submit]');
    await rows('#audit-table tr[data-action=kill][data-task=live-output]').waitFor();
    expect(await rows('#audit-table tr[data-action=create]').count()).to.equal(0);
  });

  it('lists, searches and filters tasks with their state and last outcome', async () => {
    await api(node, 'POST', '/api/v1/tasks', { name: 'nightly-report', group: 'reports', schedule: { cron: '0 30 2 * * *', tz: 'Europe/Berlin' }, action: { http: { url: 'http://127.0.0.1:9/report', method: 'POST' } } });
    await page.goto(`${base}/ui/#/tasks`);
    await rows('#task-table tr[data-task=nightly-report]').waitFor();
    await rows('#task-table tr[data-task=flaky-import] .state-failed').waitFor();
    expect(await rows('#task-table tr[data-task=nightly-report]').textContent()).to.contain('at 02:30 (Europe/Berlin)');
    await page.screenshot({ path: `${SHOTS}tasks.png`, fullPage: true });
    await page.fill('#task-search', 'report');
    await waitFor(async () => (await rows('#task-table tbody tr[data-task]').count()) === 1, 'search to narrow the list');
    await page.fill('#task-search', '');
    // "last run failed" and "running now" are filters of the server: over every task, not a page.
    const shownNames = () => rows('#task-table tbody tr[data-task]').evaluateAll((els) => els.map((e) => e.getAttribute('data-task')!));
    const failing = (await api(node, 'GET', '/api/v1/tasks?lastOutcome=failed,lost,expired,killed&limit=500')).body;
    expect(failing.items.map((t: { name: string }) => t.name)).to.include('flaky-import');
    await page.selectOption('#task-filter', 'failing');
    await waitFor(async () => (await shownNames()).join() === failing.items.map((t: { name: string }) => t.name).join(), 'the failing filter');
    expect(await page.textContent('#task-count')).to.equal(`1–${failing.total} of ${failing.total}`);
    await page.selectOption('#task-filter', 'all');
    // By last outcome: the failing first, as the API orders them.
    await page.selectOption('#task-sort', 'last');
    const byLast = (await api(node, 'GET', `/api/v1/tasks?sort=last&limit=${failing.total}`)).body.items.map((t: { name: string }) => t.name);
    expect([...byLast].sort()).to.deep.equal(failing.items.map((t: { name: string }) => t.name).sort());
    await waitFor(async () => (await shownNames()).slice(0, byLast.length).join() === byLast.join(), 'the list by last outcome');
    // Ordered and paged by the server: by name, and by next firing (the every-2s task first).
    await page.selectOption('#task-sort', 'name');
    await waitFor(async () => {
      const names = await rows('#task-table tbody tr[data-task]').evaluateAll((els) => els.map((e) => e.getAttribute('data-task')!));
      return names.length > 2 && names.join() === [...names].sort((a, b) => a.localeCompare(b)).join();
    }, 'the list by name');
    await page.selectOption('#task-sort', 'next');
    await waitFor(async () => (await rows('#task-table tbody tr[data-task]').first().getAttribute('data-task')) === 'hello-dashboard', 'the every-2s task first by next firing');
    const total = (await api(node, 'GET', '/api/v1/tasks?limit=1')).body.total;
    expect(await page.textContent('#task-count')).to.equal(`1–${total} of ${total}`);
    await page.selectOption('#task-sort', 'id');
  });

  it('deletes a task from the list', async () => {
    await page.goto(`${base}/ui/#/tasks`);
    await rows('#task-table tr[data-task=flaky-import] button.danger').click();
    await waitFor(async () => (await rows('#task-table tr[data-task=flaky-import]').count()) === 0, 'the row to go');
    expect(await taskByName('flaky-import')).to.equal(undefined);
  });

  it("a node's page: its runs in flight and daemons apart, its newest runs, drain", async () => {
    const d = await api(node, 'POST', '/api/v1/tasks', { name: 'node-daemon', schedule: { daemon: true }, action: { process: { command: 'sleep 600' } } });
    await page.goto(`${base}/ui/#/nodes`);
    await rows('#nodes-table tr[data-node=n1] a.node-link').click();
    await page.locator('#node-page[data-node=n1] [data-leader]').waitFor();
    await page.locator('#node-daemons li', { hasText: `${d.body.id}-` }).waitFor({ timeout: 15_000 });
    await rows('#node-runs tr[data-run]').first().waitFor();
    await page.screenshot({ path: `${SHOTS}node.png`, fullPage: true });
    await api(node, 'DELETE', `/api/v1/tasks/${d.body.id}`);
  });

  it('drains and undrains a node, showing it as leader with its capacity and in-flight runs', async () => {
    await page.goto(`${base}/ui/#/nodes`);
    const row = rows('#nodes-table tr[data-node=n1]');
    await row.locator('[data-leader]').waitFor();
    expect(await row.textContent()).to.match(/\d+ \/ \d+/);
    await page.screenshot({ path: `${SHOTS}nodes.png`, fullPage: true });
    await row.locator('button.drain').click();
    await rows('#nodes-table tr[data-node=n1][data-state=draining]').waitFor();
    await waitFor(async () => (await api(node, 'GET', '/readyz')).status === 503, 'the node to stop being ready');
    await rows('#nodes-table tr[data-node=n1] button.undrain').click();
    await rows('#nodes-table tr[data-node=n1][data-state=active]').waitFor();
    await waitFor(async () => (await api(node, 'GET', '/readyz')).status === 200, 'the node to be ready again');
  });

  it('shows cluster health: leader, etcd, firings per second and the counters, live', async () => {
    await page.goto(`${base}/ui/#/`);
    await page.locator('#etcd-health', { hasText: 'healthy' }).waitFor();
    // The drain above handed leadership over: n1 campaigns again once undrained.
    await page.locator('#leader', { hasText: 'n1' }).waitFor({ timeout: 20_000 });
    // The every-2s task keeps firing: the rate turns positive and the planned counter moves.
    await page.locator('#firing-rate').waitFor();
    await waitFor(async () => parseFloat((await page.textContent('#firing-rate')) ?? '0') > 0, 'a positive firing rate', 20_000);
    const planned = Number(await page.textContent('[data-stat=planned] .stat-value'));
    await waitFor(async () => Number(await page.textContent('[data-stat=planned] .stat-value')) > planned, 'the counter to move without a reload', 10_000);
    await page.screenshot({ path: `${SHOTS}cluster.png`, fullPage: true });
  });

  it('dark when the system asks for it; on a phone-sized screen the pages fit its width (wide tables scroll inside)', async () => {
    const ctx = await browser.newContext({ colorScheme: 'dark', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const p = await ctx.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    try {
      const t = await taskByName('hello-dashboard');
      for (const [hash, ready, shot] of [
        ['#/', '#etcd-health', 'phone-cluster'],
        ['#/tasks', '#task-table tr[data-task]', 'phone-tasks'],
        [`#/tasks/${t.id}`, '#runs-table tr[data-run]', 'phone-task'],
        ['#/history', '#history-table tr[data-run]', null],
        ['#/nodes/n1', '#node-page', null],
      ] as const) {
        await p.goto(`${base}/ui/${hash}`);
        await p.locator(ready).first().waitFor();
        const { bg, overflow } = await p.evaluate(() => ({ bg: getComputedStyle(document.body).backgroundColor, overflow: document.documentElement.scrollWidth - window.innerWidth }));
        expect(bg, `${hash}: the dark background`).to.equal('rgb(13, 17, 23)');
        expect(overflow, `${hash}: wider than the screen by`).to.be.at.most(1);
        if (shot) await p.screenshot({ path: `${SHOTS}${shot}.png`, fullPage: true });
      }
    } finally {
      await ctx.close();
    }
  });

  it('asks for a token when tokens are configured, and shows a tenant only its own tasks', async () => {
    const { endpoint, prefix } = await freshEtcd();
    const secured = await startNode(endpoint, prefix, { auth: { ...DEFAULTS.auth, tokens: { 'tok-a': 'alpha', 'tok-b': 'beta' }, operators: ['alpha'] } }, 'n2');
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    try {
      const url = `http://127.0.0.1:${secured.port}`;
      for (const [tok, name] of [['tok-a', 'alpha-task'], ['tok-b', 'beta-task']] as const) {
        const r = await fetch(`${url}/api/v1/tasks`, { method: 'POST', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' }, body: JSON.stringify({ name, schedule: { manual: true }, action: { process: { command: 'true' } } }) });
        expect(r.status).to.equal(201);
      }
      await p.goto(`${url}/ui/#/tasks`);
      await p.locator('#token-form').waitFor();
      await p.fill('#token-form input[name=token]', 'wrong');
      await p.click('#token-form button');
      await p.locator('#token-form .field-error', { hasText: 'invalid bearer token' }).waitFor();
      await p.fill('#token-form input[name=token]', 'tok-b');
      await p.click('#token-form button');
      await p.locator('#task-table tr[data-task=beta-task]').waitFor();
      expect(await p.locator('#task-table tr[data-task=alpha-task]').count()).to.equal(0);
      expect(await p.evaluate(() => sessionStorage.getItem('rota.token'))).to.equal('tok-b');
      // beta is not an operator: the node page says why draining is refused.
      await p.goto(`${url}/ui/#/nodes`);
      await p.locator('#nodes-table tr[data-node=n2] button.drain').click();
      await p.locator('#nodes-page .error', { hasText: 'drain n2' }).waitFor();
    } finally {
      await ctx.close();
      await secured.stop();
    }
  });
});
