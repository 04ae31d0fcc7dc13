import { createServer, type Server } from 'node:http';

/** A webhook target that answers each request with the next status of `script` (then 200), recording bodies. */
export async function scripted(script: number[]): Promise<{ url: string; bodies: unknown[]; attempts: () => number; close: () => Promise<void> }> {
  const bodies: unknown[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c));
    req.on('end', () => {
      const status = script[n++] ?? 200;
      if (status < 300) bodies.push(JSON.parse(raw));
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/alert`, bodies, attempts: () => n, close: () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

