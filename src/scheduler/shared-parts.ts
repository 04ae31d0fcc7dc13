import type { Task } from '../domain/task.js';

/**
 * Equal parts of task definitions kept once. The leader holds every definition, and with many
 * tasks most of them share their policies, placement, schedule or action value for value: a
 * heap snapshot at 100k tasks (bench/leader-heap.ts) found ten objects and a dozen strings per
 * task, each a copy of the same few. Parts are looked up by a hash of their JSON and compared
 * by it; the pool is bounded, so parts nobody shares cost at most its size. The leader never changes a
 * task in its view (an update replaces it), which is what makes sharing safe.
 */
export class SharedParts {
  /** Parts by the hash of their JSON, each with its JSON (compared on a hit). */
  private readonly parts = new Map<number, { part: object; json: string }[]>();
  private readonly strings = new Map<string, string>();
  private size = 0;

  /** Forgets everything once it holds `max` parts (parts of deleted tasks would pile up). */
  constructor(private readonly max = 20_000) {}

  part<T extends object | undefined>(value: T): T {
    if (value === undefined || value === null) return value;
    const json = JSON.stringify(value);
    const h = hash(json);
    const bucket = this.parts.get(h);
    for (const p of bucket ?? []) if (p.json === json) return p.part as T;
    if (this.size >= this.max) this.clear();
    this.parts.set(h, [...(this.parts.get(h) ?? []), { part: value, json }]);
    this.size++;
    return value;
  }

  /** One copy of short repeated text (tenants, time zones, URLs). */
  string(s: string): string {
    if (s.length > 256) return s;
    const have = this.strings.get(s);
    if (have !== undefined) return have;
    if (this.strings.size >= this.max) this.clear();
    this.strings.set(s, s);
    return s;
  }

  /** A task whose parts equal to other tasks' parts are those same objects. */
  task(t: Task): Task {
    t.tenant = this.string(t.tenant);
    t.schedule = this.part(t.schedule);
    t.action = this.part(t.action);
    t.placement = this.part(t.placement);
    t.policies = this.part(t.policies);
    if (t.labels) t.labels = this.part(t.labels);
    if (t.callback) t.callback = this.part(t.callback);
    return t;
  }

  private clear(): void {
    this.parts.clear();
    this.strings.clear();
    this.size = 0;
  }
}

/** 32-bit FNV-1a of a string's UTF-16 code units. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
