/** Headless Chromium for the dashboard tests (Debian's, driven by playwright-core), and where their screenshots go. */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// As root the sandbox cannot start; without the network flags a closed network floods the log.
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** docs/ui/ with `make ui` (ROTA_UI_SCREENSHOTS=docs); a scratch folder in `make test`, so a test run leaves the tree clean. */
export function screenshotDir(): string {
  const dir = process.env.ROTA_UI_SCREENSHOTS === 'docs' ? fileURLToPath(new URL('../../../docs/ui/', import.meta.url)) : `${mkdtempSync(join(tmpdir(), 'rota-ui-shots-'))}/`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}
