/**
 * A small seeded request fuzzer: a PRNG, mutations of valid JSON examples, raw garbage bodies,
 * random query strings, path parameters and headers, and a keep-alive HTTP sender that accepts
 * anything (bytes, lying headers). Everything is drawn from one Rng, so a seed replays a run.
 */
import { request, Agent } from 'node:http';
import { gzipSync, deflateSync } from 'node:zlib';

/** mulberry32: tiny, fast, good enough to explore inputs; the seed alone replays a run. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

const NASTY_STRINGS = [
  '', ' ', '\t', '0', '-1', '1e999', '-1e999', 'NaN', 'Infinity', '-Infinity', 'null', 'undefined', 'true', '0x1f', '1_000',
  '9007199254740993', '-0', '1.5', '  42  ', '[]', '{}', '"', '\\', '\u0000', '\ud800', '\udfff', 'a\ud83d', '\u202e\u2066rtl', '😀🇩🇪',
  'ǅ\u0301\u0300', '../../etc/passwd', '%00', '%', '%zz', '%E0%A4%A', '<script>alert(1)</script>', "'; DROP TABLE tasks; --",
  '$(reboot)', '`id`', '*/5 * * * *', '* * * * * * *', '@every 0s', '@every 1ns', '@every 99999999h', '61 * * * *', '2026-13-45T25:61:00Z',
  'http://', 'http://127.0.0.1:9/x', 'file:///etc/passwd', 'javascript:alert(1)', 'Europe/Nowhere', 'UTC', '__proto__', 'constructor',
  'toString', 'hasOwnProperty', 'prototype', '.', '..', '/', 'a/b', 'a.b', '\n', '\r\n', 'a'.repeat(201), 'é'.repeat(151),
];

const NASTY_NUMBERS = [0, -0, 1, -1, 0.5, -0.5, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, 5e-324, 86_401, 1_000_001];

/** Keys that are dangerous in JavaScript objects, plus ones each dialect knows. */
export const NASTY_KEYS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '', ' ', '\u0000', '\ud800', '😀', 'a'.repeat(300),
  'name', 'id', 'tenant', 'schedule', 'action', 'task_list', 'entries', 'identity', 'jobs', 'taskName', 'cmd', 'type', 'replica', 'labels', 'params',
];

export function nastyString(r: Rng): string {
  switch (r.int(6)) {
    case 0: {
      // huge: mostly moderate, sometimes near or past a 1 MiB body
      const n = r.chance(0.05) ? 600_000 + r.int(700_000) : r.chance(0.3) ? 10_000 + r.int(100_000) : 200 + r.int(5_000);
      return r.pick(['a', 'é', '😀', '\\', '"', '\u0000', '%']).repeat(n);
    }
    case 1: {
      let s = '';
      const n = 1 + r.int(40);
      for (let i = 0; i < n; i++) s += String.fromCharCode(r.chance(0.5) ? r.int(128) : r.int(0x10000));
      return s;
    }
    default:
      return r.pick(NASTY_STRINGS);
  }
}

/** A random JSON value (depth-bounded). */
export function randomValue(r: Rng, depth = 0): unknown {
  const k = r.int(depth > 3 ? 6 : 9);
  switch (k) {
    case 0: return null;
    case 1: return r.chance(0.5);
    case 2: return r.pick(NASTY_NUMBERS);
    case 3: return r.next() * 10 ** (r.int(30) - 10) * (r.chance(0.5) ? -1 : 1);
    case 4:
    case 5: return nastyString(r);
    case 6: return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 7: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(4); i > 0; i--) o[r.chance(0.5) ? r.pick(NASTY_KEYS) : nastyString(r).slice(0, 30)] = randomValue(r, depth + 1);
      return o;
    }
    default: return r.chance(0.5) ? [] : {};
  }
}

type Path = (string | number)[];

function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (at.length > 8 || v === null || typeof v !== 'object') return out;
  for (const [k, c] of Object.entries(v)) paths(c, [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function getAt(root: unknown, p: Path): unknown {
  let v = root;
  for (const k of p) v = (v as Record<string | number, unknown>)[k];
  return v;
}

/** Own-property set (so "__proto__" becomes a key, as JSON.parse would make it). */
function define(o: object, k: string | number, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function setAt(root: unknown, p: Path, v: unknown): unknown {
  if (!p.length) return v;
  define(getAt(root, p.slice(0, -1)) as object, p[p.length - 1]!, v);
  return root;
}

/** One structural mutation at a random place. */
function mutateOnce(root: unknown, r: Rng): unknown {
  const ps = paths(root);
  const p = r.pick(ps);
  const cur = getAt(root, p);
  const parent = p.length ? (getAt(root, p.slice(0, -1)) as Record<string | number, unknown>) : null;
  switch (r.int(10)) {
    case 0: // drop
      if (parent && !Array.isArray(parent)) delete parent[p[p.length - 1]!];
      else if (Array.isArray(parent)) parent.splice(p[p.length - 1] as number, 1);
      else return randomValue(r);
      return root;
    case 1: // retype
    case 2:
      return setAt(root, p, randomValue(r));
    case 3: // wrap in an array / unwrap
      return setAt(root, p, Array.isArray(cur) ? cur[0] : [cur]);
    case 4: // stringify / numberify
      return setAt(root, p, typeof cur === 'string' ? (Number(cur) || cur.length) : typeof cur === 'object' ? JSON.stringify(cur) : String(cur));
    case 5: // extra or nasty key
      if (cur && typeof cur === 'object' && !Array.isArray(cur)) define(cur, r.pick(NASTY_KEYS), randomValue(r));
      else if (Array.isArray(cur)) {
        const first = cur.length ? jsonLength(cur[0]) : Infinity;
        for (let i = r.int(r.chance(0.1) ? 3000 : 10); i > 0; i--) cur.push(r.chance(0.5) && first * cur.length < MAX_MUTANT_BYTES ? structuredClone(cur[0]) : randomValue(r, 3));
      }
      return root;
    case 6: // a nasty string
      return setAt(root, p, nastyString(r));
    case 7: // a number at the edges
      return setAt(root, p, typeof cur === 'number' ? r.pick([cur + 1, -cur, cur * 1e6, cur + 0.5, 0, -1]) : r.pick(NASTY_NUMBERS));
    case 8: { // duplicate an array element many times (a few MB at most: past every body limit) / an object into an array
      if (!Array.isArray(cur)) return setAt(root, p, { ...((cur && typeof cur === 'object') ? cur : {}), [r.pick(NASTY_KEYS)]: cur });
      const each = jsonLength(cur[0] ?? null);
      const n = Math.max(1, Math.min(r.pick([2, 100, 1001, 5000]), Math.floor(MAX_MUTANT_BYTES / Math.max(1, each))));
      return setAt(root, p, Array.from({ length: n }, () => structuredClone(cur[0] ?? null)));
    }
    default: // nest deeper
      return setAt(root, p, nest(cur, 2 + r.int(r.chance(0.2) ? 100 : 10), r));
  }
}

function nest(v: unknown, depth: number, r: Rng): unknown {
  let out = v;
  for (let i = 0; i < depth; i++) out = r.chance(0.5) ? [out] : { a: out };
  return out;
}

/** Mutants stop growing past this (4x the default body limit): JSON text beyond ~512 MB is not even a string. */
const MAX_MUTANT_BYTES = 4 * 1024 * 1024;

function jsonLength(v: unknown): number {
  try {
    return (JSON.stringify(v) ?? '').length;
  } catch {
    return Infinity;
  }
}

/** 1-3 mutations of a deep copy of `valid` (no more once it is past MAX_MUTANT_BYTES). */
export function mutate(valid: unknown, r: Rng): unknown {
  let v = structuredClone(valid);
  for (let n = 1 + r.int(3); n > 0; n--) {
    const before = jsonLength(v) === Infinity ? null : structuredClone(v);
    v = mutateOnce(v, r);
    const size = jsonLength(v);
    // Past what JSON text can be (a V8 string tops out near 512 MB): the last mutant that could be sent.
    if (size === Infinity && before !== null) return before;
    if (size > MAX_MUTANT_BYTES) break;
  }
  return v;
}

/** JSON text with text-level twists: duplicate keys, numbers out of range, huge nesting, BOM. */
export function jsonText(v: unknown, r: Rng): string {
  let s = JSON.stringify(v) ?? 'null';
  if (r.chance(0.1) && s.startsWith('{"')) s = `{${r.pick(['"name":1,', '"__proto__":{"polluted":1},', '"constructor":{"prototype":{"x":1}},', '"task_list":[],', '"identity":null,'])}${s.slice(1)}`;
  if (r.chance(0.05)) s = s.replace(/:(-?\d+(\.\d+)?)/, r.pick([':1e400', ':-1e400', ':123456789012345678901234567890', ':1.0000000000000000001', ':-0.0']));
  if (r.chance(0.02)) s = `\ufeff${s}`;
  if (r.chance(0.01)) {
    const d = r.pick([65, 1000, 100_000]);
    s = s.startsWith('{') ? `{"deep":${'['.repeat(d)}${']'.repeat(d)},${s.slice(1)}` : `${'['.repeat(d)}${']'.repeat(d)}`;
  }
  return s;
}

let bomb: Buffer | null = null;
/** 20 MB of zeros, gzipped to ~20 kB: its inflated size must hit the body limit. */
function gzipBomb(): Buffer {
  bomb ??= gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20));
  return bomb;
}

export interface RawBody {
  body: Buffer;
  headers: Record<string, string>;
}

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=bogus', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/octet-stream', '*/*', ';;;',
  'application/vnd.api+json', 'text/json', '',
];

/** A hostile body derived from a valid JSON text. */
export function garbageBody(valid: string, r: Rng): RawBody {
  const json = { 'content-type': 'application/json' };
  switch (r.int(12)) {
    case 0: return { body: Buffer.from(valid.slice(0, r.int(valid.length))), headers: json }; // truncated
    case 1: return { body: Buffer.from(Array.from({ length: r.int(2000) }, () => r.int(256))), headers: r.chance(0.5) ? json : {} }; // binary
    case 2: return { body: Buffer.from(valid), headers: { 'content-type': r.pick(CONTENT_TYPES) } }; // other content type
    case 3: return { body: Buffer.from(valid), headers: { ...json, 'content-encoding': r.pick(['gzip', 'deflate', 'br', 'compress', 'x-bogus', 'gzip, gzip', 'identity']) } }; // lying encoding
    case 4: return { body: r.chance(0.5) ? gzipSync(valid) : deflateSync(valid), headers: { ...json, 'content-encoding': r.pick(['gzip', 'deflate']) } }; // honest or crossed
    case 5: return { body: gzipBomb(), headers: { ...json, 'content-encoding': 'gzip' } };
    case 6: return { body: Buffer.from(r.pick(['null', '1', '"x"', '[]', 'true', '{}', '[{}]', '""', ' ', '\n', '{"a":', '{]', '{"a":1}}', 'NaN', '{"a":NaN}', "{'a':1}", '{"a":undefined}'])), headers: json };
    case 7: return { body: Buffer.from(`a=1&b[c]=2&task_list=x&name=${enc(valid.slice(0, 50))}`), headers: { 'content-type': 'application/x-www-form-urlencoded' } };
    case 8: return { body: Buffer.alloc(0), headers: json };
    case 9: return { body: Buffer.concat([Buffer.from(valid), Buffer.from([0xff, 0xfe, 0x00])]), headers: json };
    case 10: return { body: Buffer.from(valid, 'utf16le'), headers: { 'content-type': 'application/json; charset=utf-16' } };
    default: return r.chance(0.1) ? { body: Buffer.alloc(1024 * 1024 + 10 + r.int(100_000), 0x20), headers: json } : { body: Buffer.from(valid.replace(/"/, "'")), headers: json };
  }
}

const PATH_SAFE = /[^\u0021-\u007e]/g;

/** encodeURIComponent that does not throw: a lone surrogate becomes U+FFFD first. */
export function enc(s: string): string {
  return encodeURIComponent(s.replace(/\p{Cs}/gu, '\ufffd'));
}

/** A path segment: usually percent-encoded, sometimes raw and malformed. */
export function pathSegment(v: string, r: Rng): string {
  if (r.chance(0.1)) return v.replace(PATH_SAFE, (c) => enc(c).replace(/%/g, '%25')).replace(/[?#]/g, '');
  if (r.chance(0.02)) return '%ED%A0%80'; // a lone surrogate, UTF-8 encoded (invalid UTF-8)
  return enc(v);
}

/** Random values for path parameters, mixed with the known good ones. */
export function paramValue(good: string[], r: Rng): string {
  if (good.length && r.chance(0.6)) return r.pick(good);
  return r.pick([() => String(r.int(1e6)), () => '9'.repeat(1 + r.int(40)), () => '-1', () => '0', () => nastyString(r).slice(0, r.chance(0.1) ? 20_000 : 200), () => '%', () => '%E0%A4%A', () => '..'])();
}

/** A query string with known keys (random values) and junk. */
export function queryString(keys: Record<string, string[]>, r: Rng): string {
  const parts: string[] = [];
  const e = (s: string) => (r.chance(0.05) ? s.replace(/[^\u0021-\u007e]|[#&]/g, '') : r.chance(0.01) ? '%ED%A0%80' : enc(s));
  for (const [k, good] of Object.entries(keys)) {
    if (r.chance(0.4)) continue;
    const v = good.length && r.chance(0.5) ? r.pick(good) : nastyString(r).slice(0, r.chance(0.05) ? 50_000 : 100);
    parts.push(`${e(k)}=${e(v)}`);
    if (r.chance(0.08)) parts.push(`${e(k)}=${e(String(r.pick(NASTY_NUMBERS)))}`); // repeated
  }
  for (let i = r.chance(0.3) ? 1 + r.int(4) : 0; i > 0; i--) {
    parts.push(r.pick(['%', '%zz=1', 'a[]=1', 'a[b]=1', '__proto__[x]=1', 'constructor=1', '&&', '=', `${e(r.pick(NASTY_KEYS))}=${e(nastyString(r).slice(0, 50))}`]));
  }
  return parts.length ? `?${parts.join('&')}` : r.chance(0.05) ? '?' : '';
}

/** Header values are bytes: keep what Node's client will send (tab, printable ASCII, 0x80-0xff). */
export function headerValue(s: string): string {
  return s.replace(/[^\t\u0020-\u007e\u0080-\u00ff]/g, '');
}

export interface FuzzRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface FuzzReply {
  status: number;
  /** Bytes of the request line and headers as sent (Node's parser refuses more than 16 KiB of them). */
  headBytes: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Short, printable description of a request, to replay a failure by hand. */
export function describeRequest(q: FuzzRequest): string {
  const body = q.body === undefined ? '' : q.body.length > 600 ? `${q.body.subarray(0, 600).toString('latin1')}... (${q.body.length} bytes)` : q.body.toString('latin1');
  return `${q.method} ${q.path.length > 400 ? `${q.path.slice(0, 400)}... (${q.path.length} chars)` : q.path}\n  headers ${JSON.stringify(q.headers)}\n  body ${JSON.stringify(body)}`;
}

export class Sender {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 32 });
  constructor(private readonly host: string, private readonly port: number, private readonly timeoutMs = 15_000) {}

  /**
   * One retry, on a new connection, when a kept-alive socket was closed by the server as it was
   * reused (Node's documented race: the server closes sockets idle past its keep-alive timeout,
   * e.g. all of the pool while the test checks etcd between batches).
   */
  async send(q: FuzzRequest): Promise<FuzzReply> {
    try {
      return await this.once(q, this.agent);
    } catch (err) {
      if ((err as { reusedSocket?: boolean }).reusedSocket && (err as { code?: string }).code === 'ECONNRESET') return this.once(q, false);
      throw err;
    }
  }

  private once(q: FuzzRequest, agent: Agent | false): Promise<FuzzReply> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { ...q.headers };
      if (q.body !== undefined) headers['content-length'] = String(q.body.length);
      const req = request({ host: this.host, port: this.port, method: q.method, path: q.path, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        // What went on the wire before the body (ClientRequest keeps it once the headers are sent).
        const headBytes = Buffer.byteLength((req as unknown as { _header?: string })._header ?? '');
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headBytes, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms (a hang)`)));
      req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
      req.end(q.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
