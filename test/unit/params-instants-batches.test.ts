import { expect } from 'chai';
import { runParams, withParams } from '../../src/domain/params.js';
import { scheduleInstants } from '../../src/domain/schedule.js';
import { runBatch } from '../../src/service/batch.js';
import { RotaError } from '../../src/domain/errors.js';
import type { Action } from '../../src/domain/task.js';

const at = (s: string) => Date.parse(s);
const http = (extra: Record<string, unknown> = {}): Action => ({ http: { url: 'http://127.0.0.1:9/h', method: 'POST', headers: {}, ...extra } });

describe('trigger params reach the action (withParams)', () => {
  const p = { order: 7, who: 'ops' };

  it('leaves the action alone without params', () => {
    const a = http();
    expect(withParams(a, undefined)).to.equal(a);
  });

  it('http: the JSON body when the task has none, merged over a JSON object body (params win)', () => {
    expect(withParams(http(), p)).to.deep.equal(http({ body: { json: p } }));
    expect(withParams(http({ body: { json: { order: 1, keep: true } } }), p)).to.deep.equal(http({ body: { json: { order: 7, keep: true, who: 'ops' } } }));
  });

  it('http: a raw JSON object body is merged; form fields get text; other bodies are sent as they are', () => {
    const raw = withParams(http({ body: { raw: '{"a":1}', contentType: 'application/json' } }), p) as { http: { body: { raw: string } } };
    expect(JSON.parse(raw.http.body.raw)).to.deep.equal({ a: 1, order: 7, who: 'ops' });
    const rawByHeader = withParams(http({ headers: { 'Content-Type': 'application/json' }, body: { raw: '{"a":1}' } }), p) as { http: { body: { raw: string } } };
    expect(JSON.parse(rawByHeader.http.body.raw)).to.deep.equal({ a: 1, order: 7, who: 'ops' });
    const text = http({ body: { raw: 'hello', contentType: 'text/plain' } });
    expect(withParams(text, p)).to.deep.equal(text);
    const notJsonType = http({ body: { raw: '{"a":1}', contentType: 'text/plain' } });
    expect(withParams(notJsonType, p)).to.deep.equal(notJsonType);
    const array = http({ body: { json: [1, 2] } });
    expect(withParams(array, p)).to.deep.equal(array);
    expect(withParams(http({ body: { form: { a: 'x' } } }), { n: 1, s: 't', o: { k: 1 } })).to.deep.equal(http({ body: { form: { a: 'x', n: '1', s: 't', o: '{"k":1}' } } }));
  });

  it('jsonrpc: params when the task has none, merged over object params, positional params untouched', () => {
    const rpc = (params?: unknown): Action => ({ jsonrpc: { url: 'http://127.0.0.1:9/', method: 'H.F', headers: {}, ...(params !== undefined ? { params } : {}) } });
    expect(withParams(rpc(), p)).to.deep.equal(rpc(p));
    expect(withParams(rpc({ a: 1 }), p)).to.deep.equal(rpc({ a: 1, ...p }));
    expect(withParams(rpc([1]), p)).to.deep.equal(rpc([1]));
  });

  it('process and container: ROTA_PARAMS holds the params as JSON', () => {
    const proc = withParams({ process: { command: 'true', env: { A: '1' } } }, p);
    expect(proc).to.deep.equal({ process: { command: 'true', env: { A: '1', ROTA_PARAMS: '{"order":7,"who":"ops"}' } } });
    const ctr = withParams({ container: { image: 'x', args: [], env: {} } }, p);
    expect(ctr).to.deep.equal({ container: { image: 'x', args: [], env: { ROTA_PARAMS: '{"order":7,"who":"ops"}' } } });
  });
});

describe("a run's params: the task's own as defaults, the trigger's over them (runParams)", () => {
  it('merges, the trigger winning; none when neither has any', () => {
    expect(runParams({ a: 1, b: 1 }, { b: 2 })).to.deep.equal({ a: 1, b: 2 });
    expect(runParams({ a: 1 }, undefined)).to.deep.equal({ a: 1 });
    expect(runParams(undefined, { b: 2 })).to.deep.equal({ b: 2 });
    expect(runParams(undefined, undefined)).to.equal(undefined);
  });
});

describe('schedule instants (last and next firing)', () => {
  const created = at('2026-03-01T00:00:00Z');

  it('cron: the last instant the cursor has reached and the next after now, in the zone', () => {
    const s = { cron: '0 30 9 * * *', tz: 'Asia/Shanghai' }; // 01:30Z each day
    const now = at('2026-03-05T12:00:00Z');
    expect(scheduleInstants(s, created, now, now, true)).to.deep.equal({ lastMs: at('2026-03-05T01:30:00Z'), nextMs: at('2026-03-06T01:30:00Z') });
    // The cursor written ahead does not make a future instant "last".
    expect(scheduleInstants(s, created, at('2026-03-06T01:30:00Z'), now, true).lastMs).to.equal(at('2026-03-05T01:30:00Z'));
    // A cursor that stayed behind (paused) says what was last reached.
    expect(scheduleInstants(s, created, at('2026-03-03T00:00:00Z'), now, true).lastMs).to.equal(at('2026-03-02T01:30:00Z'));
  });

  it('a per-second cron and a yearly one are both found', () => {
    const now = at('2026-11-20T10:00:00.500Z');
    expect(scheduleInstants({ cron: '* * * * * *', tz: 'UTC' }, created, now, now, true)).to.deep.equal({ lastMs: at('2026-11-20T10:00:00Z'), nextMs: at('2026-11-20T10:00:01Z') });
    const yearly = { cron: '0 0 0 1 4 *', tz: 'UTC' };
    expect(scheduleInstants(yearly, created, now, now, true)).to.deep.equal({ lastMs: at('2026-04-01T00:00:00Z'), nextMs: at('2027-04-01T00:00:00Z') });
  });

  it('none before the first firing, none next when disabled or done', () => {
    const s = { cron: '0 0 12 * * *', tz: 'UTC' };
    expect(scheduleInstants(s, created, created - 1, created + 1000, true).lastMs).to.equal(null);
    expect(scheduleInstants(s, created, undefined, created + 86_400_000 * 3, true).lastMs).to.equal(null);
    expect(scheduleInstants(s, created, created + 86_400_000, created + 86_400_000, false)).to.deep.equal({ lastMs: at('2026-03-01T12:00:00Z'), nextMs: null });
    const once = { atMs: created + 5000 };
    expect(scheduleInstants(once, created, created + 5000, created + 6000, true)).to.deep.equal({ lastMs: created + 5000, nextMs: null });
    expect(scheduleInstants({ everyMs: 10_000 }, created, created + 25_000, created + 25_000, true)).to.deep.equal({ lastMs: created + 20_000, nextMs: created + 30_000 });
    expect(scheduleInstants({ manual: true }, created, created + 25_000, created + 25_000, true)).to.deep.equal({ lastMs: null, nextMs: null });
  });
});

describe('batches (a result per item)', () => {
  it('each item succeeds or fails on its own, in order, with a readable reason', async () => {
    const internal: unknown[] = [];
    const results = await runBatch(
      ['a', 'bad', 'c', 'boom'],
      (name) => ({ name }),
      async (name, i) => {
        if (name === 'bad') throw new RotaError('INVALID_SCHEDULE', 'cron field minute out of range');
        if (name === 'boom') throw new Error('socket closed');
        return { id: String(i + 10), name };
      },
      (err) => internal.push(err),
    );
    expect(results.map(({ value: _v, ...r }) => r)).to.deep.equal([
      { name: 'a', id: '10' },
      { name: 'bad', error: 'cron field minute out of range' },
      { name: 'c', id: '12' },
      { name: 'boom', error: 'internal error (logged on the server)' },
    ]);
    expect(internal).to.have.length(1);
  });
});
