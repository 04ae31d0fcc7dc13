/** `rota config ...`: the contexts in the CLI's config file (config-file.ts), and `rota completion bash|zsh`. */
import { Command } from 'commander';
import { CliError, EXIT, usageError } from './exit.js';
import { configPath, readConfig, writeConfig, type CliContextEntry } from './config-file.js';
import { emit, grid, none, serialize } from './output.js';
import { parseFormat } from './output.js';

const masked = (e: CliContextEntry): CliContextEntry => (e.token ? { ...e, token: '(set)' } : e);

export function configCommand(): Command {
  const config = new Command('config').description(`named contexts (server, token, CA certificate) in ${configPath()} (env ROTA_CONFIG)`);
  const format = (cmd: Command) => parseFormat(cmd.optsWithGlobals<{ output: string }>().output);

  config
    .command('set-context')
    .argument('<name>', 'context name')
    .usage('<name> [--server URL] [--token TOKEN] [--ca-cert FILE] [--use]')
    .description('create or change a context from the global --server, --token and --ca-cert given (only those change; an empty value removes one)')
    .option('--use', 'make it the current context too')
    .action((name: string, _o: unknown, cmd: Command) => {
      // --server, --token and --ca-cert are the global options: here they are what the context keeps.
      const o = cmd.optsWithGlobals<{ server?: string; token?: string; caCert?: string; use?: boolean }>();
      const cfg = readConfig();
      const entry: CliContextEntry = { ...(cfg.contexts[name] ?? {}) };
      for (const [key, v] of [['server', o.server], ['token', o.token], ['ca-cert', o.caCert]] as const) {
        if (v === undefined) continue;
        if (v === '') delete entry[key];
        else entry[key] = v;
      }
      cfg.contexts[name] = entry;
      if (o.use || cfg['current-context'] === undefined) cfg['current-context'] = name;
      writeConfig(cfg);
      process.stdout.write(`context ${name} saved in ${configPath()}${cfg['current-context'] === name ? ' (current)' : ''}\n`);
    });

  config
    .command('use-context')
    .argument('<name>', 'context name')
    .description('make a context the current one')
    .action((name: string) => {
      const cfg = readConfig();
      if (!cfg.contexts[name]) throw new CliError(`no context '${name}' in ${configPath()}: rota config get-contexts lists them`, EXIT.FAILED);
      cfg['current-context'] = name;
      writeConfig(cfg);
      process.stdout.write(`switched to context ${name}\n`);
    });

  config
    .command('get-contexts')
    .description('list the contexts (the current one marked *; tokens are not shown)')
    .action((_o: unknown, cmd: Command) => {
      const cfg = readConfig();
      const items = Object.entries(cfg.contexts).map(([name, e]) => ({ name, current: cfg['current-context'] === name, ...masked(e) }));
      emit(format(cmd), { current: cfg['current-context'] ?? null, items }, () =>
        items.length === 0
          ? none(`no contexts in ${configPath()}: rota config set-context NAME --server HOST:PORT`)
          : grid<(typeof items)[number]>(
              [
                { h: 'CURRENT', v: (i) => (i.current ? '*' : '') },
                { h: 'NAME', v: (i) => i.name },
                { h: 'SERVER', v: (i) => i.server ?? '-' },
                { h: 'TOKEN', v: (i) => i.token ?? '-' },
                { h: 'CA-CERT', v: (i) => i['ca-cert'] ?? '-' },
              ],
              items,
            ),
      );
    });

  config
    .command('current-context')
    .description('print the current context')
    .action(() => {
      const cur = readConfig()['current-context'];
      if (!cur) throw new CliError(`no current context in ${configPath()}`, EXIT.FAILED);
      process.stdout.write(`${cur}\n`);
    });

  config
    .command('delete-context')
    .argument('<name>', 'context name')
    .description('remove a context')
    .action((name: string) => {
      const cfg = readConfig();
      if (!cfg.contexts[name]) throw new CliError(`no context '${name}' in ${configPath()}`, EXIT.FAILED);
      delete cfg.contexts[name];
      if (cfg['current-context'] === name) delete cfg['current-context'];
      writeConfig(cfg);
      process.stdout.write(`deleted context ${name}\n`);
    });

  config
    .command('view')
    .description('print the config file (tokens shown as "(set)")')
    .action(() => {
      const cfg = readConfig();
      process.stdout.write(serialize('yaml', { ...cfg, contexts: Object.fromEntries(Object.entries(cfg.contexts).map(([k, v]) => [k, masked(v)])) }));
    });
  return config;
}

/**
 * `rota completion bash|zsh`: a completion script made from the command tree (commands,
 * subcommands and their flags). zsh loads it through bashcompinit.
 */
export function completionCommand(root: () => Command): Command {
  return new Command('completion')
    .argument('<shell>', 'bash or zsh')
    .description('print a shell completion script: source <(rota completion bash), or put it in your completions folder')
    .addHelpText('after', '\nbash: echo \'source <(rota completion bash)\' >> ~/.bashrc\nzsh:  echo \'source <(rota completion zsh)\' >> ~/.zshrc')
    .action((shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh') throw usageError(`completion for '${shell}': use bash or zsh`);
      process.stdout.write(completionScript(root(), shell));
    });
}

/** The words each command path offers: its subcommands (and aliases) and its flags; the global flags everywhere. */
export function completionWords(program: Command): Map<string, string[]> {
  const flagsOf = (c: Command) => c.options.flatMap((o) => [o.long, o.short].filter((f): f is string => !!f));
  const globals = [...flagsOf(program), '--help'];
  const out = new Map<string, string[]>();
  const walk = (c: Command, path: string) => {
    const subs = c.commands.filter((s) => s.name() !== 'help');
    out.set(path, [...new Set([...subs.flatMap((s) => [s.name(), ...s.aliases()]), ...flagsOf(c), ...globals])]);
    for (const s of subs) for (const n of [s.name(), ...s.aliases()]) walk(s, `${path} ${n}`);
  };
  walk(program, 'rota');
  return out;
}

function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const words = completionWords(program);
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const entries = [...words].map(([path, w]) => `  [${q(path)}]=${q(w.join(' '))}`).join('\n');
  const body = `# rota completion for ${shell}: commands, subcommands and flags (made by rota completion ${shell})
declare -A _rota_words=(
${entries}
)
_rota() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path=rota i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    [[ -n "\${_rota_words["$path $w"]+x}" ]] && path="$path $w"
  done
  COMPREPLY=($(compgen -W "\${_rota_words[$path]}" -- "$cur"))
}
complete -o default -F _rota rota
`;
  return shell === 'zsh' ? `#compdef rota\nautoload -U +X bashcompinit && bashcompinit\n${body}` : body;
}
