#!/usr/bin/env node
/**
 * The `rota` executable. `rota serve` runs a node with its own flags, exactly as before the
 * operator commands existed; everything else is the operator CLI (src/cli/, docs/cli.md).
 */
import { parseArgs } from 'node:util';
import { SERVE_OPTIONS } from './cli/serve-options.js';

const argv = process.argv.slice(2);
// Parsed leniently only to find the command: `rota --listen x serve` is serve too.
const { positionals } = parseArgs({ args: argv, options: SERVE_OPTIONS, allowPositionals: true, strict: false });

if (positionals[0] === 'serve') {
  const { serve } = await import('./cli/serve.js');
  await serve();
} else {
  const { runCli } = await import('./cli/program.js');
  const code = await runCli(argv);
  // Let stdout drain before exiting (a pipe may be slow).
  process.stdout.write('', () => process.exit(code));
}
