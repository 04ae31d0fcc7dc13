/** The `rota` command line: global options, the commands, and how failures become exit codes. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_SERVER } from './client.js';
import { CliError, EXIT } from './exit.js';
import { FORMATS } from './output.js';
import { taskCommand } from './task-command.js';
import { whyCommand } from './why-command.js';
import { logsCommand, runsCommand } from './runs-command.js';
import { eventsCommand } from './events-command.js';
import { checkCommand, clusterCommand, nodesCommand } from './nodes-command.js';
import { exportCommand, importCommand } from './transfer-command.js';
import { completionCommand, configCommand } from './config-command.js';
import { configPath } from './config-file.js';

function version(): string {
  try {
    // dist/src/cli/program.js -> the package root
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const EXIT_HELP = `
Environment:
  ROTA_SERVER   node or load balancer to talk to (default ${DEFAULT_SERVER}), like --server
  ROTA_TOKEN    API token (Authorization: Bearer), like --token
  ROTA_CA_CERT  CA certificate (PEM) for an https:// server, like --ca-cert
  ROTA_CONTEXT  context of the config file to use, like --context
  ROTA_CONFIG   the config file (default ${configPath()})
A flag beats its variable, which beats the context (rota config: set-context, use-context).

Exit codes:
  0 ok · 1 the server answered with an error, or no such task/run · 2 usage error (nothing sent)
  3 cannot reach the server · 4 a wait timed out (drain, check --wait, --follow --timeout)
  5 a followed run did not succeed · 6 rota cluster: no leader, or etcd unhealthy

Full reference: docs/cli.md`;

/** Every command of the tree, depth first. */
function allCommands(c: Command): Command[] {
  return [c, ...c.commands.flatMap(allCommands)];
}

export function buildProgram(): Command {
  const program = new Command('rota')
    .description('Operate a Rota cluster: tasks, runs, nodes, export/import; and `rota serve` to run a node.')
    .version(version(), '-V, --version')
    .option('-s, --server <url>', `node or load balancer, host:port or http(s)://host:port (env ROTA_SERVER; default ${DEFAULT_SERVER})`)
    .option('-t, --token <token>', 'API token, sent as Authorization: Bearer (env ROTA_TOKEN)')
    .option('--ca-cert <file>', 'PEM file of the CA that signed an https:// server\'s certificate (env ROTA_CA_CERT)')
    .option('--context <name>', 'a context of the config file (env ROTA_CONTEXT; default its current one)')
    .addOption(new Option('-o, --output <format>', 'table for people (wide: more columns), json or yaml for scripts').choices(FORMATS).default('table'))
    .option('--no-headers', 'tables without their header row (and no "no tasks"-style notes)')
    .option('-w, --watch [seconds]', 'run the command again every few seconds (default 2), the screen cleared each time; Ctrl-C stops')
    .addHelpText('after', EXIT_HELP);

  program.command('serve').description('run a node (its own flags: rota serve --help)').helpOption(false).allowUnknownOption().allowExcessArguments();
  program.addCommand(taskCommand());
  program.addCommand(runsCommand());
  program.addCommand(logsCommand());
  program.addCommand(eventsCommand());
  program.addCommand(whyCommand());
  program.addCommand(nodesCommand());
  program.addCommand(checkCommand());
  program.addCommand(clusterCommand());
  program.addCommand(exportCommand());
  program.addCommand(importCommand());
  program.addCommand(configCommand());
  program.addCommand(completionCommand(buildProgram));

  for (const c of allCommands(program)) {
    c.exitOverride().showHelpAfterError(`(${commandPath(c)} --help shows the usage)`).configureOutput({ outputError: (s, write) => write(`rota: ${s.replace(/^error: /, '')}`) });
  }
  return program;
}

function commandPath(c: Command): string {
  const names: string[] = [];
  for (let x: Command | null = c; x; x = x.parent) names.unshift(x.name());
  return names.join(' ');
}

/**
 * `--watch [seconds]` (anywhere on the line) taken out: the interval in ms, or null without it.
 * A bare -w/--watch is followed by the next argument only when that is a number.
 */
export function takeWatch(argv: string[]): { argv: string[]; everyMs: number | null } {
  const rest: string[] = [];
  let everyMs: number | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const eq = /^--watch=(.*)$/.exec(a);
    if (a === '-w' || a === '--watch' || eq) {
      const v = eq ? eq[1]! : /^\d+(\.\d+)?$/.test(argv[i + 1] ?? '') ? argv[++i]! : '2';
      const sec = Number(v);
      if (!Number.isFinite(sec) || sec < 0.5 || sec > 3600) throw new CliError(`--watch ${v}: use seconds from 0.5 to 3600`, EXIT.USAGE);
      everyMs = sec * 1000;
      continue;
    }
    rest.push(a);
  }
  return { argv: rest, everyMs };
}

/** Runs the command line; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  let watch: { argv: string[]; everyMs: number | null };
  try {
    watch = takeWatch(argv);
  } catch (err) {
    process.stderr.write(`rota: ${(err as Error).message}\n`);
    return EXIT.USAGE;
  }
  if (watch.everyMs === null) return runOnce(argv);
  // Like watch(1): the screen cleared, a header line, the command's output; again and again until Ctrl-C.
  for (;;) {
    process.stdout.write(`\x1b[H\x1b[2J\x1b[3JEvery ${watch.everyMs / 1000}s: rota ${watch.argv.join(' ')}    ${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z\n\n`);
    const code = await runOnce(watch.argv);
    if (code === EXIT.USAGE) return code;
    process.exitCode = undefined;
    await new Promise((r) => setTimeout(r, watch.everyMs!));
  }
}

async function runOnce(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    if (err instanceof CliError) {
      process.stderr.write(`rota: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`rota: unexpected error (a bug; please report it): ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.FAILED;
  }
}
