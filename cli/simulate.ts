import type { Command } from 'commander';
import { InputError } from '../shared/errors.ts';
import { loadScenarioFile } from '../sim/scenario.ts';

/**
 * `vpn-failover simulate --scenario FILE [--json] [--seed N]`: run a scenario file (contracts.md section 2)
 * against the simulated account and print the event log and final state, as one JSON document
 * (contracts.md section 3) or as a readable timeline. An invalid scenario or configuration prints every
 * problem with its path to stderr and exits 2 before anything runs.
 */

/** Exit status for input the user must fix. */
export const EXIT_INVALID_INPUT = 2;

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
}

/** Add the simulate subcommand to the program. */
export function addSimulateCommand(program: Command, io: CliIo): void {
  program
    .command('simulate')
    .description('run a scenario file against the simulated AWS account (no AWS account needed)')
    .requiredOption('--scenario <file>', 'scenario file (YAML or JSON), see contracts.md section 2')
    .option('--json', 'print one JSON document (contracts.md section 3) instead of a timeline')
    .option('--seed <n>', "seed for the simulated latencies and throttling (default: the scenario's, else 1)")
    .option('--verbose', 'also list every decision of every controller run')
    .action((options: SimulateOptions) => simulate(options, io));
}
