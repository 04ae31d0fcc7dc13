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
    .addOption(new Option('-o, --output <format>', 'table for people, json or yaml for scripts').choices(FORMATS).default('table'))
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

/** Runs the command line; resolves to the exit code. */
export async function runCli(argv: string[]): Promise<number> {
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
