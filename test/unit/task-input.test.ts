import { expect } from 'chai';
import { userInfo } from 'node:os';
import { DEFAULT_PLACEMENT, DEFAULT_POLICIES } from '../../src/domain/task.js';
import {
  normalizeAction,
  normalizePolicies,
  normalizeSchedule,
  normalizeTask,
  parseInstant,
  type InputLimits,
  type TaskInput,
} from '../../src/service/task-input.js';
import { expectRota } from '../support/expect-rota.js';

const LIMITS: InputLimits = { allowedUsers: ['deploy'], maxReplicas: 1000 };
const HTTP = { http: { url: 'http://127.0.0.1:9/hook' } };


function input(over: Partial<TaskInput> = {}): TaskInput {
  return { name: 'job', schedule: { every: '30s' }, action: HTTP, ...over };
}

describe('parseInstant', () => {
  it('reads ISO 8601 text and epoch milliseconds', () => {
    expect(parseInstant('2026-01-31T12:00:00Z')).to.equal(Date.UTC(2026, 0, 31, 12));
    expect(parseInstant('2026-01-31T13:00:00+01:00')).to.equal(Date.UTC(2026, 0, 31, 12));
    expect(parseInstant('2026-01-31')).to.equal(Date.UTC(2026, 0, 31));
    expect(parseInstant(1_769_860_800_000)).to.equal(1_769_860_800_000);
    expect(parseInstant('1769860800000')).to.equal(1_769_860_800_000);
    expect(parseInstant(0)).to.equal(0);
  });

  it('rejects anything else with INVALID_SCHEDULE', () => {
    for (const v of ['tomorrow', 'Jan 31 2026', '2026-13-45T00:00:00Z', '', -1, 1.5, Number.NaN, null, undefined, {}, true]) {
      expectRota(() => parseInstant(v), 'INVALID_SCHEDULE', 'invalid time', 'ISO 8601');
    }
  });
});

describe('normalizeSchedule', () => {
  it('accepts every with duration strings or milliseconds, and everyMs', () => {
    expect(normalizeSchedule({ every: '30s' })).to.deep.equal({ everyMs: 30_000 });
    expect(normalizeSchedule({ every: '1h30m' })).to.deep.equal({ everyMs: 5_400_000 });
    expect(normalizeSchedule({ every: 5_000 })).to.deep.equal({ everyMs: 5_000 });
    expect(normalizeSchedule({ every: '2000' })).to.deep.equal({ everyMs: 2_000 });
    expect(normalizeSchedule({ everyMs: 60_000 })).to.deep.equal({ everyMs: 60_000 });
    expect(normalizeSchedule({ everyMs: '5m' })).to.deep.equal({ everyMs: 300_000 });
  });

  it('refuses bad or too short intervals', () => {
    expectRota(() => normalizeSchedule({ every: 'often' }), 'INVALID_SCHEDULE', "invalid interval 'often'");
    expectRota(() => normalizeSchedule({ every: '-5s' }), 'INVALID_SCHEDULE', "invalid interval '-5s'");
    expectRota(() => normalizeSchedule({ every: '500ms' }), 'INVALID_SCHEDULE', 'every must be at least 1s');
  });

  it('accepts at as ISO text or epoch ms, and atMs', () => {
    const ms = Date.UTC(2026, 0, 31, 12);
    expect(normalizeSchedule({ at: '2026-01-31T12:00:00Z' })).to.deep.equal({ atMs: ms });
    expect(normalizeSchedule({ at: ms })).to.deep.equal({ atMs: ms });
    expect(normalizeSchedule({ atMs: ms })).to.deep.equal({ atMs: ms });
    expect(normalizeSchedule({ atMs: String(ms) })).to.deep.equal({ atMs: ms });
    expectRota(() => normalizeSchedule({ at: 'next week' }), 'INVALID_SCHEDULE', "invalid time 'next week'");
  });

  it('cron: trims, defaults tz to UTC, keeps a given zone', () => {
    expect(normalizeSchedule({ cron: ' */5 * * * * ' })).to.deep.equal({ cron: '*/5 * * * *', tz: 'UTC' });
    expect(normalizeSchedule({ cron: '0 9 * * MON-FRI', tz: 'Europe/Berlin' })).to.deep.equal({ cron: '0 9 * * MON-FRI', tz: 'Europe/Berlin' });
    expect(normalizeSchedule({ cron: '@daily' })).to.deep.equal({ cron: '@daily', tz: 'UTC' });
  });

  it('bad cron: INVALID_SCHEDULE with the field message', () => {
    expectRota(() => normalizeSchedule({ cron: '61 * * * *' }), 'INVALID_SCHEDULE', "cron field 'minute' out of range");
    expectRota(() => normalizeSchedule({ cron: '* * * *' }), 'INVALID_SCHEDULE', 'cron expression must have 5 or 6 fields, got 4');
    expectRota(() => normalizeSchedule({ cron: '*/0 * * * *' }), 'INVALID_SCHEDULE', "cron field 'minute' invalid: '*/0'");
    expectRota(() => normalizeSchedule({ cron: '0 0 * FOO *' }), 'INVALID_SCHEDULE', "cron field 'month' invalid");
    expectRota(() => normalizeSchedule({ cron: '@every 5m' }), 'INVALID_SCHEDULE', "'@every' is not a cron expression");
  });

  it('unknown time zone: INVALID_SCHEDULE naming it', () => {
    expectRota(() => normalizeSchedule({ cron: '0 * * * *', tz: 'Mars/Olympus' }), 'INVALID_SCHEDULE', "unknown time zone: 'Mars/Olympus'");
  });

  it('now, manual and daemon flags', () => {
    expect(normalizeSchedule({ now: true })).to.deep.equal({ now: true });
    expect(normalizeSchedule({ manual: true })).to.deep.equal({ manual: true });
    expect(normalizeSchedule({ daemon: true })).to.deep.equal({ daemon: true });
  });

  it('refuses an empty or unknown schedule', () => {
    expectRota(() => normalizeSchedule({}), 'INVALID_SCHEDULE', 'schedule must be one of');
    expectRota(() => normalizeSchedule({ manual: false }), 'INVALID_SCHEDULE', 'schedule must be one of');
    expectRota(() => normalizeSchedule({ sometimes: true }), 'INVALID_SCHEDULE');
  });
});

describe('normalizePolicies', () => {
  it('defaults to DEFAULT_POLICIES', () => {
    expect(normalizePolicies(undefined)).to.deep.equal(DEFAULT_POLICIES);
    expect(normalizePolicies({})).to.deep.equal(DEFAULT_POLICIES);
  });

  it('reads duration strings for every *Ms field and keeps unspecified defaults', () => {
    const p = normalizePolicies({
      overlap: 'forbid',
      misfire: { mode: 'skip', graceMs: '10s' },
      retry: { delaysMs: ['1s', 500, '1m'], max: 3, initialMs: '2s', factor: 3, capMs: '10m' },
      timeoutMs: '1h',
      onLost: 'discard',
      restart: { delayMs: '1s' },
      alertAfterFailures: 4,
    });
    expect(p).to.deep.equal({
      overlap: 'forbid',
      misfire: { mode: 'skip', graceMs: 10_000, windowMs: DEFAULT_POLICIES.misfire.windowMs, maxCount: DEFAULT_POLICIES.misfire.maxCount },
      retry: { delaysMs: [1_000, 500, 60_000], max: 3, initialMs: 2_000, factor: 3, capMs: 600_000 },
      timeoutMs: 3_600_000,
      onLost: 'discard',
      restart: { delayMs: 1_000, maxBackoffMs: DEFAULT_POLICIES.restart.maxBackoffMs, resetAfterMs: DEFAULT_POLICIES.restart.resetAfterMs },
      alertAfterFailures: 4,
    });
  });

  it('names the field of a bad duration', () => {
    expectRota(() => normalizePolicies({ misfire: { windowMs: 'forever' } }), 'INVALID_BODY', "policies.misfire.windowMs: invalid duration 'forever'");
    expectRota(() => normalizePolicies({ retry: { delaysMs: ['1s', 'x'] } }), 'INVALID_BODY', 'policies.retry.delaysMs[1]');
    expectRota(() => normalizePolicies({ timeoutMs: '-1s' }), 'INVALID_BODY', 'policies.timeoutMs');
  });

  it('does not share the default objects', () => {
    const p = normalizePolicies(undefined);
    p.misfire.graceMs = 1;
    p.restart.delayMs = 1;
    expect(DEFAULT_POLICIES.misfire.graceMs).to.equal(5_000);
    expect(DEFAULT_POLICIES.restart.delayMs).to.equal(3_000);
  });
});

describe('normalizeAction', () => {
  it('http: normalises URL, method, headers; keeps options', () => {
    const a = normalizeAction(
      { http: { url: 'https://example.com/x?y=1', method: 'put', headers: { 'X-N': 5 }, body: { json: { a: 1 } }, timeoutMs: '5s', expectStatus: [200, 204], bodyRegex: '^ok' } },
      LIMITS,
    );
    expect(a).to.deep.equal({
      http: {
        url: 'https://example.com/x?y=1',
        method: 'PUT',
        headers: { 'X-N': '5' },
        body: { json: { a: 1 } },
        timeoutMs: 5_000,
        expectStatus: [200, 204],
        bodyRegex: '^ok',
      },
    });
    expect(normalizeAction(HTTP, LIMITS)).to.deep.equal({ http: { url: 'http://127.0.0.1:9/hook', method: 'POST', headers: {} } });
  });

  it('bad URLs: INVALID_ACTION', () => {
    for (const url of ['not a url', 'ftp://example.com/x', 'file:///etc/passwd', '', undefined]) {
      expectRota(() => normalizeAction({ http: { url } }, LIMITS), 'INVALID_ACTION', 'action.http.url must be an http or https URL');
    }
    expectRota(() => normalizeAction({ jsonrpc: { url: 'mailto:x@y', method: 'm' } }, LIMITS), 'INVALID_ACTION', 'action.jsonrpc.url');
  });

  it('invalid bodyRegex: INVALID_ACTION; "*" means any body', () => {
    expectRota(() => normalizeAction({ http: { url: 'http://x/', bodyRegex: '(unclosed' } }, LIMITS), 'INVALID_ACTION', 'action.http.bodyRegex is not a valid regular expression');
    expect(normalizeAction({ http: { url: 'http://x/', bodyRegex: '*' } }, LIMITS)).to.have.nested.property('http.bodyRegex', '*');
  });

  it('exactly one action kind', () => {
    expectRota(() => normalizeAction({ http: { url: 'http://x/' }, process: { command: 'true' } }, LIMITS), 'INVALID_ACTION', 'exactly one of http, process, jsonrpc, container');
    expectRota(() => normalizeAction({}, LIMITS), 'INVALID_ACTION', 'exactly one of');
    expectRota(() => normalizeAction({ shell: 'true' }, LIMITS), 'INVALID_ACTION', 'exactly one of');
  });

  it('process: run-as user must be allowed', () => {
    expectRota(() => normalizeAction({ process: { command: 'id', user: 'mallory' } }, LIMITS), 'USER_NOT_ALLOWED', "user 'mallory' is not in the run-as allowlist");
    expectRota(() => normalizeAction({ process: { command: 'id', group: 'not-a-group-xyz' } }, LIMITS), 'USER_NOT_ALLOWED', "group 'not-a-group-xyz'");
    expect(normalizeAction({ process: { command: 'id', user: 'deploy', env: { N: 1 }, cwd: '/tmp' } }, LIMITS)).to.deep.equal({
      process: { command: 'id', env: { N: '1' }, user: 'deploy', cwd: '/tmp' },
    });
    const me = userInfo().username;
    expect(normalizeAction({ process: { command: 'id', user: me } }, { ...LIMITS, allowedUsers: [] })).to.have.nested.property('process.user', me);
    expectRota(() => normalizeAction({ process: { command: '  ' } }, LIMITS), 'INVALID_ACTION', 'action.process.command');
  });

  it('jsonrpc and container', () => {
    expect(normalizeAction({ jsonrpc: { url: 'http://x/rpc', method: 'sum', params: [1, 2], timeoutMs: '2s' } }, LIMITS)).to.deep.equal({
      jsonrpc: { url: 'http://x/rpc', method: 'sum', params: [1, 2], headers: {}, timeoutMs: 2_000 },
    });
    expectRota(() => normalizeAction({ jsonrpc: { url: 'http://x/rpc' } }, LIMITS), 'INVALID_ACTION', 'action.jsonrpc.method is required');
    expect(normalizeAction({ container: { image: 'alpine', args: ['echo', 1] } }, LIMITS)).to.deep.equal({ container: { image: 'alpine', args: ['echo', '1'], env: {} } });
    expectRota(() => normalizeAction({ container: {} }, LIMITS), 'INVALID_ACTION', 'action.container.image is required');
  });
});

describe('normalizeTask', () => {
  it('applies the defaults', () => {
    const t = normalizeTask(input({ name: '  job  ' }), LIMITS);
    expect(t).to.deep.equal({
      name: 'job',
      enabled: true,
      schedule: { everyMs: 30_000 },
      action: { http: { url: 'http://127.0.0.1:9/hook', method: 'POST', headers: {} } },
      replicas: 1,
      placement: DEFAULT_PLACEMENT,
      policies: DEFAULT_POLICIES,
    });
    expect(t.placement).to.deep.equal({ strategy: 'least-loaded' });
    expect(t.placement).to.not.equal(DEFAULT_PLACEMENT);
  });

  it('every/at aliases and duration strings go through', () => {
    expect(normalizeTask(input({ schedule: { every: '5m' } }), LIMITS).schedule).to.deep.equal({ everyMs: 300_000 });
    expect(normalizeTask(input({ schedule: { at: '2026-01-31T12:00:00Z' } }), LIMITS).schedule).to.deep.equal({ atMs: Date.UTC(2026, 0, 31, 12) });
    expect(normalizeTask(input({ schedule: { cron: '0 3 * * *' } }), LIMITS).schedule).to.deep.equal({ cron: '0 3 * * *', tz: 'UTC' });
    expect(normalizeTask(input({ policies: { misfire: { graceMs: '1m' } } }), LIMITS).policies.misfire.graceMs).to.equal(60_000);
  });

  it('keeps what was given', () => {
    const t = normalizeTask(
      input({
        group: 'nightly',
        enabled: false,
        replicas: 3,
        placement: { strategy: 'round-robin', attributes: { rack: 'r1' } },
        deps: ['other'],
        callback: { url: 'https://cb.example/done' },
        params: { k: 'v' },
      }),
      LIMITS,
    );
    expect(t).to.include({ group: 'nightly', enabled: false, replicas: 3 });
    expect(t.placement).to.deep.equal({ strategy: 'round-robin', attributes: { rack: 'r1' } });
    expect(t.deps).to.deep.equal(['other']);
    expect(t.callback).to.deep.equal({ url: 'https://cb.example/done' });
    expect(t.params).to.deep.equal({ k: 'v' });
    expect(normalizeTask(input({ deps: [] }), LIMITS)).to.not.have.property('deps');
  });

  it('fills a partial placement from the defaults', () => {
    expect(normalizeTask(input({ placement: { nodes: ['n1'] } }), LIMITS).placement).to.deep.equal({ strategy: 'least-loaded', nodes: ['n1'] });
  });

  it('replicas must be a whole number from 1 to maxReplicas', () => {
    for (const replicas of [0, -1, 1.5, 1001, Number.NaN]) {
      expectRota(() => normalizeTask(input({ replicas }), LIMITS), 'INVALID_BODY', 'replicas must be a whole number from 1 to 1000');
    }
    expectRota(() => normalizeTask(input({ replicas: 3 }), { ...LIMITS, maxReplicas: 2 }), 'INVALID_BODY', 'from 1 to 2');
    expect(normalizeTask(input({ replicas: 1000, schedule: { daemon: true } }), LIMITS).replicas).to.equal(1000);
  });

  it('name is required and at most 200 characters', () => {
    expectRota(() => normalizeTask(input({ name: '   ' }), LIMITS), 'INVALID_BODY', 'name is required');
    expectRota(() => normalizeTask(input({ name: 'x'.repeat(201) }), LIMITS), 'INVALID_BODY', 'longer than 200');
    expect(normalizeTask(input({ name: 'x'.repeat(200) }), LIMITS).name).to.have.length(200);
  });

  it('passes schedule and action errors through with their codes', () => {
    expectRota(() => normalizeTask(input({ schedule: { cron: '0 25 * * *' } }), LIMITS), 'INVALID_SCHEDULE', "cron field 'hour' out of range");
    expectRota(() => normalizeTask(input({ schedule: { cron: '0 * * * *', tz: 'Nowhere/City' } }), LIMITS), 'INVALID_SCHEDULE', "unknown time zone: 'Nowhere/City'");
    expectRota(() => normalizeTask(input({ action: { http: { url: 'gopher://x' } } }), LIMITS), 'INVALID_ACTION', 'action.http.url');
    expectRota(() => normalizeTask(input({ action: { process: { command: 'id', user: 'root2' } } }), LIMITS), 'USER_NOT_ALLOWED', "user 'root2'");
    expectRota(() => normalizeTask(input({ action: { http: { url: 'http://x/', bodyRegex: '[' } } }), LIMITS), 'INVALID_ACTION', 'bodyRegex');
    expectRota(() => normalizeTask(input({ action: { ...HTTP, jsonrpc: { url: 'http://x/', method: 'm' } } }), LIMITS), 'INVALID_ACTION', 'exactly one of');
    expectRota(() => normalizeTask(input({ callback: { url: 'nope' } }), LIMITS), 'INVALID_ACTION', 'callback.url');
  });
});

describe('normalizeTask: replicas per firing', () => {
  it('refuses more than 40 replicas for a non-daemon task (one transaction per firing), allows them for daemons', async () => {
    const { normalizeTask, MAX_FIRING_REPLICAS } = await import('../../src/service/task-input.js');
    const base = { name: 'r', action: { process: { command: 'true' } } };
    const limits = { allowedUsers: [], maxReplicas: 1000 };
    expect(() => normalizeTask({ ...base, schedule: { every: '1m' }, replicas: MAX_FIRING_REPLICAS + 1 }, limits)).to.throw(/only for daemon tasks/);
    expect(normalizeTask({ ...base, schedule: { every: '1m' }, replicas: MAX_FIRING_REPLICAS }, limits).replicas).to.equal(40);
    expect(normalizeTask({ ...base, schedule: { daemon: true }, replicas: 200 }, limits).replicas).to.equal(200);
  });
});
