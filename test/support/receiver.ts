import { createServer, type Server } from 'node:http';

export interface Hit {
  taskId: string;
  runId: string;
  scheduledMs: number;
  attempt: number;
  receivedMs: number;
  method: string;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A real callback target on loopback that records every hit's X-Rota-* headers. */
export class Receiver {
  hits: Hit[] = [];
  status = 200;
  private server!: Server;
  url = '';

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
          body: Buffer.concat(chunks).toString(),
          headers: req.headers,
        });
        res.statusCode = this.status;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${a.port}`;
    return this;
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
