import { createServer, type Server } from 'node:http';

export interface Hit {
  taskId: string;
  runId: string;
  scheduledMs: number;
  attempt: number;
  receivedMs: number;
  method: string;
  /** The request line's path and query. */
  url: string;
  contentType: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** The client's port: two hits on one kept-alive connection share it. */
  remotePort: number;
}

/** What the receiver answers a hit: a status (default `status`), a body (default "ok") and its type. */
export interface Answer {
  status?: number;
  body?: string;
  contentType?: string;
  /** Never answered (a receiver that reads the request and hangs on it). */
  hang?: boolean;
}

/**
 * The one callback target of the tests, on loopback: it records every hit (its X-Rota-* headers,
 * path, type and body) and answers 200 "ok", or what `respond` says (a JSON-RPC server, a
 * scripted sequence of statuses), or nothing at all while stalled or frozen.
 */
export class Receiver {
  hits: Hit[] = [];
  status = 200;
  /** Answers each hit (after it is recorded); absent: `status` and "ok". */
  respond: ((hit: Hit) => Answer) | null = null;
  /** While stalled, requests are read and recorded but not answered (a receiver that hangs). */
  private held: (() => void)[] | null = null;
  /** While frozen, nothing is read at all (a receiver stopped by SIGSTOP: requests wait in the kernel). */
  private frozen = false;
  private readonly conns = new Set<import('node:net').Socket>();
  private server!: Server;
  url = '';
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.hits.push({
          taskId: String(req.headers['x-rota-task-id'] ?? ''),
          runId: String(req.headers['x-rota-run-id'] ?? ''),
          scheduledMs: Number(req.headers['x-rota-scheduled-at'] ?? NaN),
          attempt: Number(req.headers['x-rota-attempt'] ?? NaN),
          receivedMs: Date.now(),
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: String(req.headers['content-type'] ?? ''),
          body: Buffer.concat(chunks).toString(),
          headers: req.headers,
          remotePort: req.socket.remotePort ?? 0,
        });
        const a: Answer = this.respond ? this.respond(this.hits[this.hits.length - 1]!) : {};
        const answer = () => {
          if (res.destroyed) return;
          res.statusCode = a.status ?? this.status;
          if (a.contentType) res.setHeader('content-type', a.contentType);
          res.end(a.body ?? 'ok');
        };
        if (a.hang) return;
        if (this.held) this.held.push(answer);
        else answer();
      });
    });
    this.server.on('connection', (sock) => {
      this.conns.add(sock);
      sock.once('close', () => this.conns.delete(sock));
      if (this.frozen) sock.pause();
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    this.url = `http://127.0.0.1:${this.port}`;
    return this;
  }

  /** Stops answering (requests are still read and recorded) until resume(). */
  stall(): void {
    this.held ??= [];
  }

  /** Stops reading from every connection, old and new, until resume(). */
  freeze(): void {
    this.frozen = true;
    for (const s of this.conns) s.pause();
  }

  /** Reads and answers again: the held requests (those whose connection is still open) and every new one. */
  resume(): void {
    this.frozen = false;
    for (const s of this.conns) s.resume();
    const held = this.held ?? [];
    this.held = null;
    for (const answer of held) answer();
  }

  forTask(id: string): Hit[] {
    return this.hits.filter((h) => h.taskId === id);
  }

  /** (task, scheduled time) pairs seen more than once. */
  duplicates(id?: string): string[] {
    const seen = new Map<string, number>();
    for (const h of id ? this.forTask(id) : this.hits) {
      const k = `${h.taskId}@${h.scheduledMs}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
