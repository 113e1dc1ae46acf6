import type { Command } from 'commander';
import { parseDurationSeconds } from '../shared/duration.ts';
import { InputError } from '../shared/errors.ts';
import { loadScenarioFile } from '../sim/scenario.ts';

/**
 * `vpn-failover simulate --scenario FILE [--json] [--seed N] [--fail-on-blackhole SECONDS]`: run a scenario
 * file against the simulated account and print the event log and final state, as one JSON document (its shape
 * is sim/output.ts) or as a readable timeline. An invalid scenario or configuration prints every problem with
 * its path to stderr and exits 2 before anything runs. With --fail-on-blackhole, a pair whose traffic was
 * blackholed for longer than that is named on stderr and the exit status is 1, so a CI job can hold a scenario
 * to a bound.
 */

/** Exit status for input the user must fix. */
export const EXIT_INVALID_INPUT = 2;

/** Exit status for a run that broke a bound the user set (--fail-on-blackhole). */
export const EXIT_BOUND_EXCEEDED = 1;

/** What the simulate command writes to and how it ends. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly setExitCode: (code: number) => void;
}

/** The options commander parses for simulate. */
interface SimulateOptions {
  readonly scenario: string;
  readonly json?: boolean;
  readonly seed?: string;
  readonly verbose?: boolean;
  readonly failOnBlackhole?: string;
}

/** Run the simulate command. */
export async function simulate(options: SimulateOptions, io: CliIo): Promise<void> {
  let seed: number | undefined;
  if (options.seed !== undefined) {
    if (!/^-?\d+$/.test(options.seed)) {
      io.stderr(`invalid --seed: expected an integer (got ${JSON.stringify(options.seed)})\n`);
      io.setExitCode(EXIT_INVALID_INPUT);
      return;
    }
    seed = Number(options.seed);
  }
  let blackholeBound: number | undefined;
  if (options.failOnBlackhole !== undefined) {
    blackholeBound = parseDurationSeconds(options.failOnBlackhole);
    if (blackholeBound === undefined) {
      io.stderr(
        `invalid --fail-on-blackhole: expected a number of seconds or a duration like "90s" or "2m" (got ${JSON.stringify(options.failOnBlackhole)})\n`,
      );
      io.setExitCode(EXIT_INVALID_INPUT);
      return;
    }
  }
  let scenario: ReturnType<typeof loadScenarioFile>;
  try {
    scenario = loadScenarioFile(options.scenario);
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    io.stderr(`${error.message}\n`);
    io.setExitCode(EXIT_INVALID_INPUT);
    return;
  }
  // Loaded only once the input is valid: the simulator pulls in the SDK clients and the controller.
  const [{ runScenario }, { renderRun }] = await Promise.all([
    import('../sim/run-scenario.ts'),
    import('../sim/timeline.ts'),
  ]);
  const output = await runScenario(scenario, {
    ...(seed === undefined ? {} : { seed }),
    verbose: options.verbose === true,
  });
  io.stdout(options.json ? `${JSON.stringify(output, null, 2)}\n` : renderRun(scenario, output));
  if (blackholeBound === undefined) return;
  const bound = blackholeBound;
  const over = Object.entries(output.final.pairs).filter(([, pair]) => pair.blackholeSeconds > bound);
  for (const [name, pair] of over) {
    io.stderr(
      `${name}: traffic blackholed for ${pair.blackholeSeconds} s, more than --fail-on-blackhole ${bound} s\n`,
    );
  }
  if (over.length > 0) io.setExitCode(EXIT_BOUND_EXCEEDED);
}

/** Add the simulate subcommand to the program. */
export function addSimulateCommand(program: Command, io: CliIo): void {
  program
    .command('simulate')
    .description('run a scenario file against the simulated AWS account (no AWS account needed)')
    .requiredOption(
      '--scenario <file>',
      'scenario file (YAML or JSON), see examples/scenarios and docs/simulator.md',
    )
    .option('--json', 'print one JSON document (events and final state) instead of a timeline')
    .option('--seed <n>', "seed for the simulated latencies and throttling (default: the scenario's, else 1)")
    .option('--verbose', 'also list every decision of every controller run')
    .option(
      '--fail-on-blackhole <seconds>',
      "exit 1 when a pair's traffic was blackholed for longer than this (seconds, or a duration like 2m)",
    )
    .action((options: SimulateOptions) => simulate(options, io));
}
