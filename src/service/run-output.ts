import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { RotaError } from '../domain/errors.js';
import type { Run } from '../domain/task.js';
import type { EtcdHandle } from '../store/etcd.js';
import { NodeStore } from '../store/node-store.js';
import type { NodeRecord } from '../store/session.js';
import type { Caller, TaskService } from './task-service.js';

/** How a request reached this node: the caller's credentials to pass on, and whether another node already forwarded it here. */
export interface Via {
  auth?: string;
  localOnly?: boolean;
}

/** A run's output as a stream of bytes, from the node that ran it. */
export interface RunOutput {
  run: Run;
  /** `file`: the whole output, read on `node`; `tail`: only the last bytes kept with the run record (the node is gone, or the action wrote no file). */
  source: 'file' | 'tail';
  node: string | null;
  body: Readable;
}

/** Header a node sets on a call it forwards to the node that holds a run's file; the owner answers from its own disk only. */
export const FORWARDED = 'x-rota-forwarded';

/** The file a node writes a run's output to (stdout and stderr, interleaved as they came). */
export function runLogFile(dataDir: string, run: Pick<Run, 'taskId' | 'id'>): string {
  return join(dataDir, 'runs', run.taskId, `${run.id}.log`);
}

/**
 * A run's whole output (the "4 KiB tail" in the run record is its last part): read from the file
 * on the node that ran it, forwarded there from any node (the second direct node-to-node call,
 * beside replica output), and with `follow` kept open while the run runs, ending when it has ended
 * and its last bytes are sent.
 */
export class RunOutputService {
  private readonly nodes: NodeStore;

  constructor(
    h: EtcdHandle,
    private readonly tasks: TaskService,
    private readonly self: { nodeId: () => string; dataDir: string },
    private readonly pollMs = 250,
  ) {
    this.nodes = new NodeStore(h);
  }

  async open(c: Caller, runId: string, opts: { follow?: boolean; via?: Via } = {}): Promise<RunOutput> {
    const run = await this.tasks.getRun(c, runId);
    const via = opts.via ?? {};
    if (!run.node) return tail(run);
    if (run.node === this.self.nodeId()) {
      const file = runLogFile(this.self.dataDir, run);
      // Followed while it runs: the file may not be there yet (claimed ahead of its instant, or just starting).
      if (opts.follow && run.state === 'running') return { run, source: 'file', node: run.node, body: Readable.from(this.follow(c, run, file)) };
      const size = await stat(file).then((s) => s.size, () => null);
      return size === null ? tail(run) : { run, source: 'file', node: run.node, body: createReadStream(file) };
    }
    if (via.localOnly) throw new RotaError('UNAVAILABLE', `run ${run.id} is on node ${run.node}, not on ${this.self.nodeId()}`);
    const owner = await this.owner(run.node);
    if (!owner) return tail(run);
    const res = await askOwner(owner, `/api/v1/runs/${encodeURIComponent(run.id)}/output${opts.follow ? '?follow=true' : ''}`, this.self.nodeId(), via);
    const source = res.headers.get('x-rota-output') === 'tail' ? 'tail' : 'file';
    return { run, source, node: run.node, body: res.body ? Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>) : Readable.from([]) };
  }

  /** The live node `id` (its API address), or null when it is not registered. */
  owner(id: string): Promise<NodeRecord | null> {
    return this.nodes.list().then((ns) => ns.find((n) => n.id === id) ?? null);
  }

  /**
   * The file from the start, then what is appended to it, until the run has ended and nothing
   * more comes. A run that ends without ever writing the file (an HTTP action) gives its record's tail.
   */
  private async *follow(c: Caller, run: Run, file: string): AsyncGenerator<Buffer> {
    let fh: FileHandle | null = null;
    try {
      let pos = 0;
      let lastCheck = 0;
      let missing = 0;
      let ended: Run | null = null;
      for (;;) {
        fh ??= await open(file, 'r').catch(() => null);
        // Read to the end of what is there; the size is taken after the state was, so nothing written before the end is left.
        const size = fh ? (await fh.stat()).size : 0;
        while (fh && pos < size) {
          const buf = Buffer.alloc(Math.min(size - pos, 64 * 1024));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          yield buf.subarray(0, bytesRead);
        }
        if (ended) {
          if (!fh && ended.outputTail) yield Buffer.from(ended.outputTail);
          return;
        }
        if (this.tasks.now() - lastCheck >= 1000) {
          lastCheck = this.tasks.now();
          // etcd not answering: go on reading. Not found three times in a row (its task deleted):
          // it has ended; once may be a moment between its firing and its record.
          const now = await this.tasks.getRun(c, run.id).catch((err: unknown) => (err instanceof RotaError && err.code === 'NOT_FOUND' && ++missing >= 3 ? run : null));
          if (now && now !== run) missing = 0;
          if (now && (now === run || now.state !== 'running')) {
            ended = now;
            continue;
          }
        }
        await new Promise((r) => setTimeout(r, this.pollMs));
      }
    } finally {
      await fh?.close();
    }
  }
}

function tail(run: Run): RunOutput {
  return { run, source: 'tail', node: run.node ?? null, body: Readable.from([Buffer.from(run.outputTail ?? '')]) };
}

/**
 * A GET to the node `owner`'s API, marked as forwarded, with the caller's credentials; its error
 * envelope becomes UNAVAILABLE. The owner has 5 s to answer; its body (a long output, a follow)
 * may then take as long as it takes.
 */
export async function askOwner(owner: NodeRecord, path: string, selfId: string, via: Via): Promise<Response> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error('no answer in 5 s')), 5000);
  const res = await fetch(`http://${owner.address}${path}`, {
    headers: { [FORWARDED]: selfId, ...(via.auth ? { authorization: via.auth } : {}) },
    signal: abort.signal,
  })
    .catch((err: Error) => {
      throw new RotaError('UNAVAILABLE', `node ${owner.id} (${owner.address}) did not answer: ${err.message}`);
    })
    .finally(() => clearTimeout(timer));
  if (!res.ok) {
    const e = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new RotaError('UNAVAILABLE', `node ${owner.id}: ${e?.error?.message ?? `HTTP ${res.status}`}`);
  }
  return res;
}

/** The last `maxBytes` of a file, or null when there is none. */
export async function readTail(file: string, maxBytes: number): Promise<{ text: string; truncated: boolean } | null> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return { text: buf.toString('utf8'), truncated: size > len };
  } finally {
    await fh.close();
  }
}
