import type { Command } from 'commander';
import { loadConfigFile } from '../shared/config/file.ts';
import { DEFAULT_CONFIG_PATH } from '../shared/config/load.ts';
import { InputError } from '../shared/errors.ts';
import { countOf } from '../shared/plural.ts';
import { type CliIo, EXIT_INVALID_INPUT } from './simulate.ts';

/**
 * `vpn-failover validate [--config FILE] [--json]`: check a configuration file exactly as `cdk synth`, the
 * Lambda and the simulator will, and print every problem with its path (exit 2), or the pairs it defines with
 * every default filled in (exit 0). Touches no AWS account.
 */
export function validate(options: { readonly config: string; readonly json?: boolean }, io: CliIo): void {
  try {
    const config = loadConfigFile(options.config);
    if (options.json) {
      io.stdout(`${JSON.stringify(config, null, 2)}\n`);
      return;
    }
    io.stdout(
      `${options.config}: valid, ${countOf(config.pairs.length, 'pair')}${config.dryRun ? ', dry run' : ''}\n`,
    );
    for (const p of config.pairs) {
      const signals = [
        'instance',
        p.probe.kind === 'none' ? undefined : `daemon (${p.probe.kind})`,
        p.tunnel ? 'tunnel' : undefined,
      ];
      io.stdout(
        `  ${p.name}: ${p.primary.instanceId} (primary) / ${p.standby.instanceId} (standby), ` +
          `${countOf(p.routeTables.length, 'route table')} x ${countOf(p.destinations.length, 'destination')}; ` +
          `signals ${signals.filter(Boolean).join(', ')}; failback ${p.failback}\n`,
      );
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    io.stderr(`${error.message}\n`);
    io.setExitCode(EXIT_INVALID_INPUT);
  }
}

/** Add the validate subcommand to the program. */
export function addValidateCommand(program: Command, io: CliIo): void {
  program
    .command('validate')
    .description('check a configuration file and list every problem with its path (no AWS account needed)')
    .option('--config <file>', 'configuration file (YAML or JSON)', DEFAULT_CONFIG_PATH)
    .option('--json', 'print the validated configuration with every default filled in')
    .action((options: { config: string; json?: boolean }) => validate(options, io));
}
