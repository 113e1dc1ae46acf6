#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { addControlCommands } from './control.ts';
import { addDoctorCommand } from './doctor.ts';
import { addHistoryCommand } from './history.ts';
import { debugWanted, describeError, OPERATOR_ENV } from './operator.ts';
import { registerResizeCommand } from './resize.ts';
import { addSimulateCommand, type CliIo, EXIT_INVALID_INPUT } from './simulate.ts';
import { addStatusCommand } from './status.ts';
import { addValidateCommand } from './validate.ts';

/**
 * The `vpn-failover` command line. Subcommands live in their own modules and are registered here. Usage
 * errors (unknown option, missing argument) exit 2 like invalid input; failures of the work itself exit 1,
 * with one line saying what went wrong (the stack trace only with --debug or VPN_FAILOVER_DEBUG=1).
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
  .option('--debug', `print the stack trace of an unexpected error (or set ${OPERATOR_ENV.debug}=1)`)
  .showHelpAfterError()
  .exitOverride();

addStatusCommand(program, io);
addControlCommands(program, io);
addHistoryCommand(program, io);
addDoctorCommand(program, io);
registerResizeCommand(program, io);
addSimulateCommand(program, io);
addValidateCommand(program, io);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has already printed the message (or the help / version asked for).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_INVALID_INPUT;
  } else {
    const debug = debugWanted(process.argv, process.env);
    const detail = debug && error instanceof Error && error.stack ? `\n${error.stack}` : '';
    process.stderr.write(`vpn-failover: ${describeError(error)}${detail}\n`);
    process.exitCode = 1;
  }
}
