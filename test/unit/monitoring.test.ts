import { expect } from 'chai';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { Metrics } from '../../src/metrics.js';

// The alert rules and the Grafana dashboard in cluster/onprem (docs/operations.md §6): promtool
// parses and unit-tests the rules, and every series they and the dashboard query must be one a
// node exports, as read from the registry src/metrics.ts builds (not from a list kept here).

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RULES = join(ROOT, 'cluster/onprem/prometheus/rota-rules.yml');
const RULE_TESTS = join(ROOT, 'cluster/onprem/prometheus/rota-rules.test.yml');
const DASHBOARD = join(ROOT, 'cluster/onprem/grafana/rota-dashboard.json');
const OPERATIONS = join(ROOT, 'docs/operations.md');

interface Rule { alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }
interface Panel { type: string; title?: string; targets?: { expr?: string }[]; panels?: Panel[] }
interface Dashboard { schemaVersion: number; panels: Panel[]; templating: { list: { name: string; type: string; query?: unknown }[] } }

/** promtool's combined output; a missing promtool fails the test rather than skipping it. */
async function promtool(...args: string[]): Promise<string> {
  const r = await execa('promtool', args, { reject: false, all: true });
  if (r.failed) expect.fail(`promtool ${args.join(' ')}: ${r.code === 'ENOENT' ? 'not installed (make promtool-bin)' : r.all}`);
  return r.all;
}

/** Every series name a node's /metrics can carry: histograms and summaries add their parts. */
async function exportedSeries(): Promise<Set<string>> {
  const parts: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };
  const names = new Set<string>();
  for (const m of await new Metrics().registry.getMetricsAsJSON()) {
    for (const suffix of parts[String(m.type)] ?? ['']) names.add(m.name + suffix);
  }
  return names;
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The series a PromQL expression reads: its identifiers once strings, label matchers, ranges,
 * grouping labels and offsets are taken out, less function names and keywords.
 */
function seriesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}|\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?\w+/g, ' ');
  const names: string[] = [];
  for (const m of bare.matchAll(/(?<![\w.$])[A-Za-z_:][\w:]*/g)) {
    const isCall = /^\s*\(/.test(bare.slice(m.index + m[0].length));
    if (!isCall && !KEYWORDS.has(m[0].toLowerCase())) names.push(m[0]);
  }
  return names;
}

/** "name in expr" for each series an expression reads that is neither exported nor allowed. */
function strangers(exprs: string[], exported: Set<string>, allowed: (name: string) => boolean): string[] {
  return exprs.flatMap((e) => seriesIn(e).filter((n) => !exported.has(n) && !allowed(n)).map((n) => `${n} in ${e}`));
}

function dashboardQueries(panels: Panel[]): string[] {
  return panels.flatMap((p) => [...(p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])), ...dashboardQueries(p.panels ?? [])]);
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const rules = (): Rule[] => (parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Prometheus' own per-target series. */
const isUp = (n: string) => n === 'up';

describe('monitoring: alert rules and dashboard', () => {
  let exported: Set<string>;
  before(async () => {
    exported = await exportedSeries();
  });

  it('reads series names out of PromQL (not its functions, labels or keywords) and queries out of collapsed rows', () => {
    expect(seriesIn('histogram_quantile(0.99, sum by (le) (rate(rota_x_bucket{a="b}", c=~"$v"}[5m]))) > 1')).to.deep.equal(['rota_x_bucket']);
    expect(seriesIn('(sum(rota_is_leader) or vector(0)) != 1')).to.deep.equal(['rota_is_leader']);
    expect(seriesIn('a unless b offset 10m / on (instance) group_left c > 2.5e3')).to.deep.equal(['a', 'b', 'c']);
    expect(strangers(['rate(rota_firings_total[1m])', 'rota_is_leader'], exported, isUp)).to.deep.equal(['rota_firings_total in rate(rota_firings_total[1m])']);
    expect(dashboardQueries([{ type: 'row', panels: [{ type: 'stat', targets: [{ expr: 'a' }, {}] }] }, { type: 'text' }])).to.deep.equal(['a']);
  });

  it('promtool accepts every alert rule', async () => {
    const out = await promtool('check', 'rules', RULES);
    expect(out).to.contain(`SUCCESS: ${rules().length} rules found`);
  });

  it("the rules pass their promtool unit tests (no leader after its `for`, missed firings, a node without a lease)", async () => {
    const out = await promtool('test', 'rules', RULE_TESTS);
    expect(out).to.contain('SUCCESS');
  });

  it('every alert has a severity, a summary, and a description pointing to a section of docs/operations.md that names it', () => {
    const operations = readFileSync(OPERATIONS, 'utf8');
    for (const r of rules()) {
      expect(r.alert, r.expr).to.be.a('string');
      expect(['critical', 'warning'], r.alert).to.include(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).to.be.a('string').and.not.empty;
      const section = /docs\/operations\.md §(\d+)/.exec(r.annotations?.description ?? '')?.[1];
      expect(section, `${r.alert}: description names no section`).to.be.a('string');
      expect(operations, `${r.alert}: docs/operations.md has no section ${section}`).to.match(new RegExp(`^## ${section}\\. `, 'm'));
      expect(operations, `${r.alert} is not described in docs/operations.md`).to.contain(`\`${r.alert}\``);
    }
  });

  it("the rules read only series Rota exports (besides etcd's own and up)", () => {
    const exprs = rules().map((r) => r.expr);
    expect(strangers(exprs, exported, (n) => isUp(n) || n.startsWith('etcd_'))).to.deep.equal([]);
  });

  it('the dashboard is JSON with a templated Prometheus data source, and every panel but text and rows queries', () => {
    const d = dashboard();
    expect(d.schemaVersion).to.be.at.least(36);
    expect(d.templating.list.find((v) => v.name === 'DS_PROMETHEUS')).to.include({ type: 'datasource', query: 'prometheus' });
    const panels = allPanels(d.panels);
    expect(panels.filter((p) => p.type !== 'row' && p.type !== 'text' && !dashboardQueries([p]).length).map((p) => p.title)).to.deep.equal([]);
  });

  it('the dashboard reads only series Rota exports (and up)', () => {
    const d = dashboard();
    const variables = d.templating.list.flatMap((v) => {
      const m = /^label_values\((\w+),/.exec(typeof v.query === 'string' ? v.query : '');
      return m ? [m[1]!] : [];
    });
    expect(variables, 'the node variable reads a series').to.not.be.empty;
    expect(strangers([...dashboardQueries(d.panels), ...variables], exported, isUp)).to.deep.equal([]);
  });

  it("promtool parses every dashboard query (Grafana's variables filled in)", async () => {
    const exprs = dashboardQueries(dashboard().panels).map((e) => e.replaceAll('$__rate_interval', '1m').replaceAll('$__range', '1h').replace(/\$\w+/g, '.*'));
    const dir = mkdtempSync(join(tmpdir(), 'rota-dashboard-promql-'));
    try {
      const file = join(dir, 'queries.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr })) }] }));
      expect(await promtool('check', 'rules', file)).to.contain(`SUCCESS: ${exprs.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
