import type { Command } from 'commander';
import { type AwsClients, createClients } from '../shared/aws/clients.ts';
import { describeInstanceTypes } from '../shared/aws/ec2-resize.ts';
import { InvalidInstanceTypeError } from '../shared/aws/errors.ts';
import { startExecution } from '../shared/aws/sfn.ts';
import { type Clock, systemClock } from '../shared/clock.ts';
import { loadConfigFile } from '../shared/config/file.ts';
import { DEFAULT_CONFIG_PATH } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { InputError, NamedError } from '../shared/errors.ts';
import { silentLogger } from '../shared/logger.ts';
import { describeResizePlan } from '../shared/resize/plan.ts';
import { resizeContext } from '../shared/resize/preflight.ts';
import { dryRunPreflight } from '../shared/resize/step-preflight.ts';
import { executionName, parseResizeRequest, type ResizeRequest } from '../shared/resize/types.ts';
import { type FollowDeps, follow } from './resize-progress.ts';
import type { CliIo } from './simulate.ts';

/**
 * `vpn-failover resize PAIR --to TYPE`: start the resize workflow (a Step Functions execution) and follow it
 * until it ends, with a live step list. Exit status: 0 succeeded; 1 failed, rolled back or refused; 2 invalid
 * input (nothing started); 130 when Ctrl-C stopped following (the workflow goes on).
 */

/** Exit statuses. */
export const RESIZE_EXIT = { succeeded: 0, failed: 1, invalid: 2, detached: 130 } as const;

/** Environment variables the command reads. */
export const RESIZE_ENV = {
  stateMachineArn: 'VPN_FAILOVER_STATE_MACHINE_ARN',
  tableName: 'VPN_FAILOVER_TABLE',
  probeDocument: 'VPN_FAILOVER_PROBE_DOCUMENT',
} as const;

/** What the command runs with; everything has a production default, tests inject the simulator's. */
export interface ResizeCliDeps extends FollowDeps {
  /** @default createClients() with the caller's credentials and Region */
  readonly clients?: () => AwsClients;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The command's options as commander parses them. */
export interface ResizeOptions {
  readonly to?: string;
  readonly failback: boolean;
  readonly soak: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly config: string;
  readonly stateMachineArn?: string;
  readonly follow?: string;
  readonly table?: string;
  readonly probeDocument?: string;
}

/** A failure the user must fix before anything starts. */
export class UsageError extends NamedError {
  static override readonly NAME = 'UsageError';
}

/** Run the command; resolves to the exit status. */
export async function runResize(
  pair: string | undefined,
  options: ResizeOptions,
  io: CliIo,
  deps: ResizeCliDeps = {},
): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const getClients = lazy(deps.clients ?? (() => createClients()));
  try {
    if (options.follow !== undefined) {
      return RESIZE_EXIT[
        await follow(options.follow, { io, deps, clock, clients: getClients(), json: options.json === true })
      ];
    }
    const { config, request } = validate(pair, options);
    await checkTypeExists(getClients(), request.instanceType, io);
    if (options.dryRun) {
      return await dryRun(request, config, options, { io, clock, clients: getClients(), env });
    }
    const stateMachineArn = options.stateMachineArn ?? env[RESIZE_ENV.stateMachineArn];
    if (!stateMachineArn) {
      throw new UsageError(
        `no state machine: pass --state-machine-arn or set ${RESIZE_ENV.stateMachineArn} (the stack output ResizeStateMachineArn)`,
      );
    }
    const input = {
      pair: request.pair,
      instanceType: request.instanceType,
      failback: request.failback,
      soak: request.soak,
    };
    const name = executionName(request.pair, clock.now());
    const started = await startExecution(getClients().sfn, { stateMachineArn, name, input });
    if (options.json) {
      io.stdout(
        `${JSON.stringify({ event: 'started', execution: name, executionArn: started.executionArn, input })}\n`,
      );
    } else {
      io.stdout(
        `Resizing ${request.pair} to ${request.instanceType}: execution ${name}\n  ${started.executionArn}\n`,
      );
    }
    return RESIZE_EXIT[
      await follow(started.executionArn, {
        io,
        deps,
        clock,
        clients: getClients(),
        json: options.json === true,
      })
    ];
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputError) {
      io.stderr(`vpn-failover resize: ${error.message}\n`);
      return RESIZE_EXIT.invalid;
    }
    throw error;
  }
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** Every check that needs no AWS call: the configuration, the pair, the request's fields. */
function validate(
  pair: string | undefined,
  options: ResizeOptions,
): { config: Config; request: ResizeRequest } {
  if (pair === undefined) throw new UsageError('which pair? usage: vpn-failover resize PAIR --to TYPE');
  if (options.to === undefined)
    throw new UsageError('which instance type? pass --to TYPE (e.g. --to c6in.xlarge)');
  const config = loadConfigFile(options.config);
  if (!config.pairs.some((p) => p.name === pair)) {
    throw new UsageError(
      `unknown pair "${pair}" in ${options.config} (configured: ${config.pairs.map((p) => p.name).join(', ')})`,
    );
  }
  const request = parseResizeRequest({
    pair,
    instanceType: options.to,
    failback: options.failback,
    soak: options.soak,
  });
  return { config, request };
}

/**
 * Ask EC2 whether the type exists before starting anything. Only "EC2 does not know it" stops here; any other
 * failure (no permission for DescribeInstanceTypes...) is reported and left to the workflow's preflight.
 */
async function checkTypeExists(clients: AwsClients, instanceType: string, io: CliIo): Promise<void> {
  try {
    const found = await describeInstanceTypes(clients.ec2, [instanceType]);
    if (found.length === 0) throw new UsageError(`EC2 does not know instance type ${instanceType}`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof InvalidInstanceTypeError)
      throw new UsageError(`EC2 does not know instance type ${instanceType}`, { cause: error });
    io.stderr(
      `note: could not check instance type ${instanceType} (${(error as Error).message}); the preflight will\n`,
    );
  }
}

/** --dry-run: the preflight's checks, read-only (no lease), and the plan; nothing is started. */
async function dryRun(
  request: ResizeRequest,
  config: Config,
  options: ResizeOptions,
  context: {
    io: CliIo;
    clock: Clock;
    clients: AwsClients;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<number> {
  const { io, env } = context;
  const tableName = options.table ?? env[RESIZE_ENV.tableName];
  const probeDocument = options.probeDocument ?? env[RESIZE_ENV.probeDocument];
  if (!tableName || !probeDocument) {
    throw new UsageError(
      `--dry-run reads the pair's state and probes its members: pass --table and --probe-document, or set ${RESIZE_ENV.tableName} and ${RESIZE_ENV.probeDocument} (the stack outputs)`,
    );
  }
  const deps = {
    clients: context.clients,
    config,
    tableName,
    probeDocument,
    clock: context.clock,
    log: silentLogger,
  };
  const { pair, facts, result } = await dryRunPreflight(deps, request);
  const plan = result.ok ? describeResizePlan(pair, resizeContext(facts, result, '(dry run)')) : [];
  if (options.json) {
    io.stdout(
      `${JSON.stringify({ dryRun: true, pair: pair.name, instanceType: request.instanceType, failback: request.failback, soakSeconds: request.soak, preflight: result, plan }, null, 2)}\n`,
    );
  } else {
    io.stdout(`Dry run: resize ${pair.name} to ${request.instanceType} (nothing is started)\n\nPreflight:\n`);
    for (const check of result.checks)
      io.stdout(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`);
    if (result.ok) {
      io.stdout('\nPlan:\n');
      plan.forEach((stage, i) => {
        io.stdout(`  ${i + 1}. ${stage.title}: ${stage.detail}\n`);
      });
    } else {
      io.stdout('\nThe workflow would refuse this resize; nothing would be stopped.\n');
    }
  }
  return result.ok ? RESIZE_EXIT.succeeded : RESIZE_EXIT.failed;
}

/** Add the resize subcommand to the program. */
export function registerResizeCommand(program: Command, io: CliIo, deps: ResizeCliDeps = {}): Command {
  return program
    .command('resize')
    .description(
      'resize both members of a pair without downtime (standby first, fail over, old primary, fail back)',
    )
    .argument('[pair]', 'the pair to resize (a name from the configuration)')
    .option('--to <type>', 'the new instance type, e.g. c6in.xlarge')
    .option(
      '--no-failback',
      'leave traffic on the member resized first instead of failing back to the primary',
    )
    .option(
      '--soak <duration>',
      'how long the resized member carries traffic before the other is touched',
      '2m',
    )
    .option('--dry-run', 'print the plan and the preflight checks without starting anything')
    .option('--json', 'print one JSON object per line (NDJSON) instead of the step list')
    .option('--config <file>', 'the configuration file', DEFAULT_CONFIG_PATH)
    .option('--state-machine-arn <arn>', `the resize state machine (default: $${RESIZE_ENV.stateMachineArn})`)
    .option('--follow <executionArn>', 'follow a resize already started (after Ctrl-C)')
    .option('--table <name>', `--dry-run: the state table (default: $${RESIZE_ENV.tableName})`)
    .option(
      '--probe-document <name>',
      `--dry-run: the probe document (default: $${RESIZE_ENV.probeDocument})`,
    )
    .action(async (pair: string | undefined, options: ResizeOptions) => {
      io.setExitCode(await runResize(pair, options, io, deps));
    });
}
