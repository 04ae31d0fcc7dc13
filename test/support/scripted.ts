import { Receiver } from './receiver.js';

/** A webhook target (the shared Receiver) that answers each request with the next status of `script` (then 200), keeping the JSON bodies it took. */
export async function scripted(script: number[]): Promise<{ url: string; bodies: unknown[]; attempts: () => number; close: () => Promise<void> }> {
  const rx = new Receiver();
  const bodies: unknown[] = [];
  let n = 0;
  rx.respond = (hit) => {
    const status = script[n++] ?? 200;
    if (status < 300) bodies.push(JSON.parse(hit.body));
    return { status, body: '' };
  };
  await rx.start();
  return { url: `${rx.url}/alert`, bodies, attempts: () => n, close: () => rx.stop() };
}
