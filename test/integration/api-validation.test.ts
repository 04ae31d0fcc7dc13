import { expect } from 'chai';
import { ApiHarness, httpTask, type Reply } from './api-harness.js';

function expectError(r: Reply, status: number, code: string, message?: string | RegExp): void {
  expect(r.status, JSON.stringify(r.body)).to.equal(status);
  expect(r.body.error.code).to.equal(code);
  if (typeof message === 'string') expect(r.body.error.message).to.equal(message);
  else if (message) expect(r.body.error.message).to.match(message);
}

describe('native API: validation', function () {
  let api: ApiHarness;
  beforeEach(async () => {
    api = await ApiHarness.start({ maxBodyBytes: 64 * 1024 });
  });
  afterEach(async () => api.close());
  const post = (body: unknown) => api.call('POST', '/api/v1/tasks', { body });

  it('bad JSON is 400 BAD_JSON with the reason', async () => {
    expectError(await api.call('POST', '/api/v1/tasks', { raw: '{"name": "x",' }), 400, 'BAD_JSON', /^invalid JSON: .+/);
    expectError(await api.call('POST', '/api/v1/tasks', { raw: "{'name': 1}" }), 400, 'BAD_JSON');
    expectError(await api.call('POST', '/api/v1/tasks', { raw: '{"__proto__": {"x": 1}}' }), 400, 'BAD_JSON');
  });

  it('any Content-Type is read as JSON (curl -d sends a form type)', async () => {
    const r = await api.call('POST', '/api/v1/tasks', { raw: JSON.stringify(httpTask('curl')), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(r.status).to.equal(201);
  });

  it('a body over the limit is 413 BODY_TOO_LARGE', async () => {
    const r = await post(httpTask('big', { params: { blob: 'x'.repeat(70 * 1024) } }));
    expectError(r, 413, 'BODY_TOO_LARGE', /65536 bytes/);
  });

  it('a non-object body is 400 INVALID_BODY', async () => {
    for (const raw of ['[]', '[1,2]', 'null', '42', '"text"', 'true', '']) {
      expectError(await api.call('POST', '/api/v1/tasks', { raw }), 400, 'INVALID_BODY', /^body: /);
    }
  });

  it('unknown fields are named', async () => {
    expectError(await post(httpTask('a', { foo: 1 })), 400, 'INVALID_BODY', "unknown field 'foo'");
    expectError(await post(httpTask('a', { schedule: { cron: '* * * * *', foo: 1 } })), 400, 'INVALID_BODY', "unknown field 'foo' in schedule");
    expectError(await post(httpTask('a', { action: { http: { url: 'http://x', retries: 3 } } })), 400, 'INVALID_BODY', "unknown field 'retries' in action.http");
  });

  it('wrong types and missing fields name the field path', async () => {
    expectError(await post(httpTask('a', { action: { http: { url: 5 } } })), 400, 'INVALID_BODY', 'action.http.url: must be a string');
    expectError(await post(httpTask('a', { replicas: '2' })), 400, 'INVALID_BODY', 'replicas: must be an integer');
    expectError(await post(httpTask('a', { replicas: 1001 })), 400, 'INVALID_BODY', 'replicas: must be <= 1000');
    expectError(await post(httpTask('a', { deps: ['x', 7] })), 400, 'INVALID_BODY', 'deps[1]: must be a string');
    expectError(await post(httpTask('a', { policies: { overlap: 'sometimes' } })), 400, 'INVALID_BODY', 'policies.overlap: must be one of "allow", "forbid", "replace"');
    expectError(await post(httpTask('a', { policies: { timeoutMs: true } })), 400, 'INVALID_BODY', 'policies.timeoutMs: must be a string or an integer');
    expectError(await post({ schedule: { manual: true }, action: { process: { command: 'x' } } }), 400, 'INVALID_BODY', 'name: is required');
    expectError(await post(httpTask('a', { action: { http: {} } })), 400, 'INVALID_BODY', 'action.http.url: is required');
    expectError(await post(httpTask('a', { schedule: {} })), 400, 'INVALID_BODY', /^schedule: must have exactly one of cron, every, everyMs, at, atMs, now, manual, daemon$/);
    expectError(await post(httpTask('a', { schedule: { every: '1m', manual: true } })), 400, 'INVALID_BODY', /^schedule: must have exactly one of/);
    expectError(await post(httpTask('a', { schedule: { every: '1m', tz: 'UTC' } })), 400, 'INVALID_BODY', "schedule: 'tz' is only allowed together with 'cron'");
    expectError(await post(httpTask('a', { schedule: { now: false } })), 400, 'INVALID_BODY', 'schedule.now: must be true');
    expectError(await post(httpTask('a', { action: { http: { url: 'http://x' }, process: { command: 'x' } } })), 400, 'INVALID_BODY', /^action: must have exactly one of http, process, jsonrpc, container$/);
  });

  it('meaning is checked by the service: time zone, cron fields, URLs, durations', async () => {
    expectError(await post(httpTask('a', { schedule: { cron: '0 * * * *', tz: 'Mars/Olympus' } })), 400, 'INVALID_SCHEDULE', /Mars\/Olympus/);
    expectError(await post(httpTask('a', { schedule: { cron: '0 0 * * * * *' } })), 400, 'INVALID_SCHEDULE', 'cron expression must have 5 or 6 fields, got 7');
    expectError(await post(httpTask('a', { schedule: { cron: '0 25 * * *' } })), 400, 'INVALID_SCHEDULE', "cron field 'hour' out of range: 25");
    expectError(await post(httpTask('a', { schedule: { every: 'soon' } })), 400, 'INVALID_SCHEDULE', /invalid interval 'soon'/);
    expectError(await post(httpTask('a', { schedule: { at: 'tomorrow' } })), 400, 'INVALID_SCHEDULE', /invalid time 'tomorrow'/);
    expectError(await post(httpTask('a', { action: { http: { url: 'ftp://x/y' } } })), 400, 'INVALID_ACTION', /action\.http\.url/);
    expectError(await post(httpTask('a', { policies: { retry: { delaysMs: ['1s', 'later'] } } })), 400, 'INVALID_BODY', /policies\.retry\.delaysMs\[1\]/);
  });

  it('a run-as user outside the allowlist is 400 USER_NOT_ALLOWED', async () => {
    const r = await post({ name: 'root-job', schedule: { manual: true }, action: { process: { command: 'id', user: 'definitely-not-allowed' } } });
    expectError(r, 400, 'USER_NOT_ALLOWED', /definitely-not-allowed/);
  });

  it('no input crashes the server or leaves a half-written task', async () => {
    const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    const garbage = [
      '[]',
      'null',
      '[{"name":"x"}]',
      '{"name": null, "schedule": null, "action": null}',
      '{"name":"n1","schedule":{"everyMs":1e400},"action":{"http":{"url":"http://x"}}}',
      '{"name":"n2","schedule":{"atMs":99999999999999999999},"action":{"http":{"url":"http://x"}}}',
      '{"name":"n3","schedule":{"at":"99999999999999999"},"action":{"http":{"url":"http://x"}}}',
      '{"name":"n4","schedule":{"every":"9999999999999999d"},"action":{"http":{"url":"http://x"}}}',
      '{"name":"n5","replicas":1e308,"schedule":{"manual":true},"action":{"http":{"url":"http://x"}}}',
      `{"name":"n6","schedule":{"manual":true},"action":{"http":{"url":"http://x"}},"params":${deep(5000)}}`,
      `{"name":"n7","schedule":{"manual":true},"action":{"http":{"url":"http://x"}},"params":{"a":${'['.repeat(20000)}${']'.repeat(20000)}}}`,
      '{"name":"n8","schedule":{"manual":true},"action":{"http":{"url":"http://x","body":{"json":1,"raw":"x"}}}}',
      '{"name":"n9","schedule":{"cron":"'.padEnd(300, '*') + '"},"action":{"http":{"url":"http://x"}}}',
      '{"name":"\\u0000","schedule":{"manual":true},"action":{"jsonrpc":{"url":"http://x"}}}',
      '\u0000\u0001\u0002',
      '{"constructor":{"prototype":{"polluted":true}}}',
    ];
    for (const raw of garbage) {
      const r = await api.call('POST', '/api/v1/tasks', { raw });
      expect(r.status, raw.slice(0, 80)).to.be.within(400, 499);
      expect(r.body.error.code).to.be.a('string');
    }
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    const list = await api.call('GET', '/api/v1/tasks');
    expect(list.status).to.equal(200);
    expect(list.body.items).to.deep.equal([]);
    expect((await api.call('GET', '/healthz')).status).to.equal(200);
  });

  it('PUT and PATCH validate the same way', async () => {
    const { body: t } = await post(httpTask('v'));
    expectError(await api.call('PUT', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { ...t, bogus: 1 } }), 400, 'INVALID_BODY', "unknown field 'bogus'");
    expectError(await api.call('PATCH', '/api/v1/tasks/{id}', { params: { id: t.id }, body: { schedule: { cron: '0 25 * * *' } } }), 400, 'INVALID_SCHEDULE');
    expectError(await api.call('PATCH', '/api/v1/tasks/{id}', { params: { id: t.id }, raw: '[]' }), 400, 'INVALID_BODY');
    const still = await api.call('GET', '/api/v1/tasks/{id}', { params: { id: t.id } });
    expect(still.body).to.deep.equal(t);
    await api.call('DELETE', '/api/v1/tasks/{id}', { params: { id: t.id } });
  });
});
