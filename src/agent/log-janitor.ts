import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Run output files live on the node that ran them (dataDir/runs/{task}/{run}.log). This keeps
 * them within the same bounds as the run history: at most `keep` per task, none older than
 * maxAgeMs. Returns how many files it removed.
 */
export async function pruneRunLogs(dataDir: string, keep: number, maxAgeMs: number, nowMs: number, inUse: Set<string>): Promise<number> {
  const root = join(dataDir, 'runs');
  let removed = 0;
  let tasks: string[];
  try {
    tasks = await readdir(root);
  } catch {
    return 0;
  }
  for (const task of tasks) {
    const dir = join(root, task);
    const files = await readdir(dir).catch(() => [] as string[]);
    const withTime = (
      await Promise.all(
        files.map(async (f) => {
          const s = await stat(join(dir, f)).catch(() => null);
          return s ? { f, mtimeMs: s.mtimeMs } : null;
        }),
      )
    ).filter((x): x is { f: string; mtimeMs: number } => x !== null);
    withTime.sort((a, b) => b.mtimeMs - a.mtimeMs);
    for (const [i, { f, mtimeMs }] of withTime.entries()) {
      if (inUse.has(f.replace(/\.log$/, ''))) continue;
      if (i >= keep || mtimeMs < nowMs - maxAgeMs) {
        await rm(join(dir, f), { force: true });
        removed++;
      }
    }
    if (withTime.length - removed <= 0) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return removed;
}
