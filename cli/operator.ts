import type { Command } from 'commander';
import { createOperatorClients, type OperatorClients } from '../shared/aws/clients.ts';
import { describeStack } from '../shared/aws/cloudformation.ts';
import { awsErrorName } from '../shared/aws/errors.ts';
import { type Clock, systemClock } from '../shared/clock.ts';
import { DEFAULT_CONFIG_PATH } from '../shared/config/load.ts';
import type { Config, PairConfig } from '../shared/config/schema.ts';
import { InputError, NamedError } from '../shared/errors.ts';
import { STACK_OUTPUTS } from '../shared/telemetry-names.ts';
import type { CliIo } from './simulate.ts';

/**
 * What the commands that work against a deployed account share (status, failover, pause, resume, history,
 * doctor): the common options, the clients (the SDK's default credential chain and Region unless --profile or
 * --region say otherwise), finding the deployment from its stack's outputs, and turning any failure into one
 * line and an exit status.
 */

/** Exit statuses of the operator commands. */
export const OPERATOR_EXIT = {
  ok: 0,
  /** the work failed (an AWS error, a Lambda error, a FAIL in doctor) */
  failed: 1,
  /** invalid input: nothing was done */
  invalid: 2,
  /** the controller refused the operator's command and said why */
  refused: 3,
} as const;

/**
 * The stack name the CDK app deploys when not told otherwise (infra/app.ts DEFAULT_STACK_NAME; the CLI does not
 * import the CDK app, a test keeps the two equal).
 */
export const DEFAULT_STACK = 'VpnFailover';

/** Environment variables the operator commands read. */
export const OPERATOR_ENV = {
  /** the stack name when --stack is not given */
  stack: 'VPN_FAILOVER_STACK',
  /** 1: print the stack trace of an unexpected error */
  debug: 'VPN_FAILOVER_DEBUG',
} as const;

/** The options every operator command has. */
export interface OperatorOptions {
  readonly stack?: string;
  readonly profile?: string;
  readonly region?: string;
  readonly json?: boolean;
}

/** What the operator commands run with; everything has a production default, tests inject the simulator's. */
export interface OperatorDeps {
  /** @default createOperatorClients with --profile and --region */
  readonly clients?: (options: { readonly profile?: string; readonly region?: string }) => OperatorClients;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** redraw in place (status --watch). @default process.stdout.isTTY */
  readonly isTTY?: boolean;
  /** aborted when the user asks to stop (status --watch). @default Ctrl-C (SIGINT) */
  readonly interrupt?: AbortSignal;
}

/** A failure to report on one line, with the exit status it means. */
export class CliError extends NamedError {
  static override readonly NAME = 'CliError';
  readonly exitCode: number;
  constructor(message: string, exitCode: number = OPERATOR_EXIT.failed, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
  }
}

/** A deployment as its stack's outputs describe it (STACK_OUTPUTS). */
export interface Deployment {
  readonly stackName: string;
  readonly stackStatus: string;
  readonly functionName: string;
  readonly tableName: string;
  readonly deploymentName: string;
  readonly probeDocument?: string;
  readonly alarmTopicArn?: string;
  readonly configHash?: string;
  readonly agentTableName?: string;
  readonly agentPolicyArn?: string;
  readonly agentDocumentName?: string;
}

/** The stack name the options and environment ask for. */
export const stackNameOf = (options: OperatorOptions, env: Readonly<Record<string, string | undefined>>) =>
  options.stack ?? env[OPERATOR_ENV.stack] ?? DEFAULT_STACK;

/** The clients for these options. */
export function clientsFor(options: OperatorOptions, deps: OperatorDeps): OperatorClients {
  const make = deps.clients ?? createOperatorClients;
  return make({
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    ...(options.region !== undefined ? { region: options.region } : {}),
  });
}

/**
 * The deployment named by the stack, or undefined when no such stack exists. A stack without the outputs the CLI
 * needs (deployed by an older version, or not a vpn-failover stack) is an error naming the missing outputs.
 */
export async function findDeployment(
  clients: OperatorClients,
  stackName: string,
): Promise<Deployment | undefined> {
  const stack = await describeStack(clients.cloudformation, stackName);
  if (stack === undefined) return undefined;
  const { outputs } = stack;
  const required = [
    STACK_OUTPUTS.controllerFunctionName,
    STACK_OUTPUTS.stateTableName,
    STACK_OUTPUTS.deploymentName,
  ];
  const missing = required.filter((key) => outputs[key] === undefined);
  if (missing.length > 0) {
    throw new CliError(
      `stack ${stackName} (${stack.status}) has no output ${missing.join(', ')}: is it a vpn-failover stack, deployed by this version? (redeploy it with npx cdk deploy -c config=FILE)`,
    );
  }
  const optional = (key: string) => (outputs[key] !== undefined ? outputs[key] : undefined);
  const probeDocument = optional(STACK_OUTPUTS.probeDocumentName);
  const alarmTopicArn = optional(STACK_OUTPUTS.alarmTopicArn);
  const configHash = optional(STACK_OUTPUTS.configHash);
  const agentTableName = optional(STACK_OUTPUTS.agentTableName);
  const agentPolicyArn = optional(STACK_OUTPUTS.agentPolicyArn);
  const agentDocumentName = optional(STACK_OUTPUTS.agentDocumentName);
  return {
    stackName: stack.stackName,
    stackStatus: stack.status,
    functionName: outputs[STACK_OUTPUTS.controllerFunctionName] as string,
    tableName: outputs[STACK_OUTPUTS.stateTableName] as string,
    deploymentName: outputs[STACK_OUTPUTS.deploymentName] as string,
    ...(probeDocument !== undefined ? { probeDocument } : {}),
    ...(alarmTopicArn !== undefined ? { alarmTopicArn } : {}),
    ...(configHash !== undefined ? { configHash } : {}),
    ...(agentTableName !== undefined ? { agentTableName } : {}),
    ...(agentPolicyArn !== undefined ? { agentPolicyArn } : {}),
    ...(agentDocumentName !== undefined ? { agentDocumentName } : {}),
  };
}

/** The deployment named by the stack; its absence is an error saying how to name another. */
export async function requireDeployment(clients: OperatorClients, stackName: string): Promise<Deployment> {
  const deployment = await findDeployment(clients, stackName);
  if (deployment === undefined) {
    const region = await clients.cloudformation.config.region().catch(() => undefined);
    throw new CliError(
      `no stack ${stackName}${region ? ` in ${region}` : ''}: deploy it (npx cdk deploy -c config=FILE), or name it with --stack NAME, --region or --profile`,
    );
  }
  return deployment;
}

/** A pair of the configuration, or a usage error naming those there are. */
export function pairOf(config: Config, name: string, file: string): PairConfig {
  const pair = config.pairs.find((p) => p.name === name);
  if (pair === undefined) {
    throw new CliError(
      `unknown pair "${name}" in ${file} (configured: ${config.pairs.map((p) => p.name).join(', ')})`,
      OPERATOR_EXIT.invalid,
    );
  }
  return pair;
}

/** Every error name or message along an error's cause chain, for recognising what went wrong underneath. */
function causes(error: unknown): { readonly name?: string; readonly message: string }[] {
  const chain: { name?: string; message: string }[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const name = awsErrorName(current);
    chain.push({
      ...(name !== undefined ? { name } : {}),
      message: current instanceof Error ? current.message : String(current),
    });
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

const CREDENTIAL_ERRORS = new Set(['CredentialsProviderError', 'TokenProviderError']);
const EXPIRED_ERRORS = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired']);
const BAD_CREDENTIAL_ERRORS = new Set([
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'SignatureDoesNotMatch',
  'AuthFailure',
]);

/**
 * One line saying what went wrong, for any error: the usual credential and Region problems in words a person
 * can act on, otherwise the error's own first line.
 */
export function describeError(error: unknown): string {
  const chain = causes(error);
  const profile = chain.find((c) => c.name === 'CredentialsProviderError' && /profile/i.test(c.message));
  if (profile !== undefined) return `${firstLine(profile.message)} (check --profile or AWS_PROFILE)`;
  if (chain.some((c) => c.name !== undefined && CREDENTIAL_ERRORS.has(c.name))) {
    return 'no AWS credentials found (set AWS_PROFILE or run aws configure)';
  }
  if (chain.some((c) => /^Region is missing/.test(c.message))) {
    return 'no AWS Region set (pass --region, set AWS_REGION, or set a region in your AWS profile)';
  }
  if (chain.some((c) => c.name !== undefined && EXPIRED_ERRORS.has(c.name))) {
    return 'the AWS credentials have expired (refresh them, e.g. aws sso login, and try again)';
  }
  const bad = chain.find((c) => c.name !== undefined && BAD_CREDENTIAL_ERRORS.has(c.name));
  if (bad !== undefined) {
    return `AWS rejected the credentials (${bad.name}): check AWS_PROFILE or run aws configure`;
  }
  if (error instanceof InputError) return error.message;
  return firstLine(error instanceof Error ? error.message : String(error));
}

const firstLine = (text: string): string => (text.split('\n')[0] ?? text).trim();

/** Whether the stack trace of an unexpected error is wanted (--debug or VPN_FAILOVER_DEBUG=1). */
export const debugWanted = (argv: readonly string[], env: Readonly<Record<string, string | undefined>>) =>
  argv.includes('--debug') || env[OPERATOR_ENV.debug] === '1';

/**
 * Run one operator command: its failures become one line on stderr and an exit status (CliError's own, 2 for
 * invalid input, 1 for anything else), never a stack trace.
 */
export async function runOperator(io: CliIo, command: string, work: () => Promise<number>): Promise<number> {
  try {
    return await work();
  } catch (error) {
    const expected = error instanceof CliError || error instanceof InputError;
    const trace =
      !expected && debugWanted(process.argv, process.env) && error instanceof Error && error.stack
        ? `\n${error.stack}`
        : '';
    io.stderr(`vpn-failover ${command}: ${describeError(error)}${trace}\n`);
    if (error instanceof CliError) return error.exitCode;
    if (error instanceof InputError) return OPERATOR_EXIT.invalid;
    return OPERATOR_EXIT.failed;
  }
}

/** Add the options every operator command has. */
export function withOperatorOptions(command: Command): Command {
  return command
    .option('--stack <name>', `the deployed stack (default: $${OPERATOR_ENV.stack} or ${DEFAULT_STACK})`)
    .option('--profile <name>', 'the AWS profile (default: the SDK default credential chain)')
    .option('--region <region>', 'the AWS Region (default: the SDK default, e.g. AWS_REGION)')
    .option('--json', 'print JSON instead of text');
}

/** Add --config, for the commands that read the configuration file. */
export const withConfigOption = (command: Command): Command =>
  command.option('--config <file>', 'the configuration file that was deployed', DEFAULT_CONFIG_PATH);

/** Sleep on the clock, waking early when the signal fires. */
export async function sleepUnless(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const wake = () => resolve();
    signal.addEventListener('abort', wake, { once: true });
    clock.sleep(ms).then(() => {
      signal.removeEventListener('abort', wake);
      resolve();
    });
  });
}

/** An AbortSignal that fires on the first Ctrl-C (SIGINT) until released; the second is Node's default again. */
export function interruptOnSigint(): { readonly signal: AbortSignal; readonly release: () => void } {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  return { signal: controller.signal, release: () => process.off('SIGINT', onSigint) };
}

/** The clock the deps give, or the system's. */
export const clockOf = (deps: OperatorDeps): Clock => deps.clock ?? systemClock;
