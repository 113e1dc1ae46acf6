#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerResizeCommand } from './resize.ts';
import { addSimulateCommand, type CliIo, EXIT_INVALID_INPUT } from './simulate.ts';
import { addValidateCommand } from './validate.ts';

/**
 * The `vpn-failover` command line. Subcommands live in their own modules and are registered here. Usage
 * errors (unknown option, missing argument) exit 2 like invalid input; failures of the work itself exit 1.
 */

const io: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
};

/** The version of the package this command line belongs to, from its package.json. */
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

const program = new Command('vpn-failover')
  .description('Failover and zero-downtime resize for active/standby EC2 VPN instance pairs')
  .version(version, '-V, --version', 'print the version of vpn-failover')
  .showHelpAfterError()
  .exitOverride();

addSimulateCommand(program, io);
registerResizeCommand(program, io);
addValidateCommand(program, io);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed the message (or the help / version asked for).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_INVALID_INPUT;
  } else {
    process.stderr.write(`vpn-failover: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}
