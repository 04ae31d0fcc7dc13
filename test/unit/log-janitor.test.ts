import { expect } from 'chai';
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pruneRunLogs } from '../../src/agent/log-janitor.js';
import { tempDir } from '../support/tmp.js';

describe('run output files on a node', () => {
  it('keeps the newest N per task, drops old ones, never one in use', async () => {
    const dir = tempDir('rota-logs-');
    const t = join(dir, 'runs', '7');
    mkdirSync(t, { recursive: true });
    const now = Date.now();
    for (let i = 0; i < 6; i++) {
      const f = join(t, `7-${1000 + i}-1.log`);
      writeFileSync(f, 'x');
      utimesSync(f, new Date(now - i * 1000), new Date(now - i * 1000));
    }
    const ancient = join(t, '7-1-1.log');
    writeFileSync(ancient, 'old');
    utimesSync(ancient, new Date(now - 30 * 86_400_000), new Date(now - 30 * 86_400_000));
    const removed = await pruneRunLogs(dir, 3, 7 * 86_400_000, now, new Set(['7-1005-1']));
    expect(removed).to.equal(3);
    expect(readdirSync(t).sort()).to.deep.equal(['7-1000-1.log', '7-1001-1.log', '7-1002-1.log', '7-1005-1.log']);
  });
});
